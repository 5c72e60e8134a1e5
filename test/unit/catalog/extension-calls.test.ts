import { describe, expect, it } from 'vitest';
import { extensionCalls, routineCalls, type ExtensionFunction } from '../../../src/catalog/introspect-extension-calls.js';

const PGCRYPTO = 101;
const UUID = 202;
const FUNCTIONS: ExtensionFunction[] = [
  { extension: PGCRYPTO, schema: 'public', name: 'hmac' },
  { extension: PGCRYPTO, schema: 'public', name: 'crypt' },
  { extension: PGCRYPTO, schema: 'public', name: 'gen_salt' },
  { extension: UUID, schema: 'ext', name: 'uuid_generate_v4' },
];

describe('the extensions a function body calls', () => {
  it('finds unqualified calls through the search path and qualified ones exactly', () => {
    expect(extensionCalls(`SELECT core.url_encode(hmac(signables, secret, alg.id)) FROM alg;`, ['core', 'public'], FUNCTIONS)).toEqual([PGCRYPTO]);
    expect(extensionCalls(`begin return ext.uuid_generate_v4(); end`, ['app', 'public'], FUNCTIONS)).toEqual([UUID]);
    expect(extensionCalls(`select crypt ( p, gen_salt('bf'))`, ['public'], FUNCTIONS)).toEqual([PGCRYPTO]);
  });

  it('ignores names outside the search path, in literals and in comments', () => {
    expect(extensionCalls(`return uuid_generate_v4();`, ['app', 'public'], FUNCTIONS)).toEqual([]);
    expect(extensionCalls(`raise notice 'hmac(x)'; -- crypt(y)\n/* gen_salt(z) */ return 1;`, ['public'], FUNCTIONS)).toEqual([]);
    expect(extensionCalls(`select other.hmac(x)`, ['public'], FUNCTIONS)).toEqual([]);
  });
});

describe('the source\'s own functions a function body calls', () => {
  const routines = new Map([
    ['public.norm_code', ['public.norm_code(text)', 'public.norm_code(text, integer)']],
    ['app.audit', ['app.audit()']],
  ]);

  it('finds every overload of a name called, through the search path or qualified, case folded', () => {
    expect(routineCalls(`BEGIN NEW.code := NORM_CODE(NEW.code); PERFORM app.audit (); END`, ['public'], routines)).toEqual([
      'app.audit()',
      'public.norm_code(text)',
      'public.norm_code(text, integer)',
    ]);
    expect(routineCalls(`SELECT audit()`, ['app', 'public'], routines)).toEqual(['app.audit()']);
  });

  it('ignores names not called, outside the search path, in literals and in comments', () => {
    expect(routineCalls(`SELECT audit()`, ['public'], routines)).toEqual([]);
    expect(routineCalls(`SELECT norm_code FROM t; RAISE NOTICE 'norm_code(x)'; -- app.audit()`, ['public'], routines)).toEqual([]);
  });
});
