import { describe, expect, it } from 'vitest';
import { scramSha256Verifier } from '../../../src/pg/scram-verifier.js';

describe('SCRAM-SHA-256 verifiers', () => {
  // That the server accepts a login with the password is proved against real servers
  // (test/integration/secrets.test.ts).
  it('keeps the salt and iterations it is given', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const v = scramSha256Verifier('pencil', { salt, iterations: 4096 });
    expect(v.startsWith('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$')).toBe(true);
    expect(scramSha256Verifier('pencil', { salt, iterations: 4096 })).toBe(v);
    expect(scramSha256Verifier('pencil2', { salt, iterations: 4096 })).not.toBe(v);
  });
  it('salts each verifier anew and never contains the password', () => {
    const a = scramSha256Verifier('p@ss #w%rd');
    const b = scramSha256Verifier('p@ss #w%rd');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(a).not.toContain('p@ss');
  });
});
