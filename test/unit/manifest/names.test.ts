import { describe, expect, it } from 'vitest';
import { closest } from '../../../src/manifest/closest.js';
import { compileNamePattern, matchesName, type NamePattern } from '../../../src/manifest/glob.js';
import { manifestName, parseNameParts, yamlScalar } from '../../../src/manifest/names.js';

const compile = (entry: string): NamePattern => {
  const p = compileNamePattern(entry);
  if ('error' in p) throw new Error(p.error);
  return p;
};

describe('manifest names', () => {
  it('splits quoted and unquoted parts', () => {
    expect(parseNameParts('app."Odd ""name"""')).toEqual([{ text: 'app', quoted: false }, { text: 'Odd "name"', quoted: true }]);
    expect(parseNameParts('"a.b"')).toEqual([{ text: 'a.b', quoted: true }]);
    expect(parseNameParts('users.username')).toEqual([{ text: 'users', quoted: false }, { text: 'username', quoted: false }]);
    expect(parseNameParts('a..b')).toEqual({ error: expect.stringMatching(/empty/) });
    expect(parseNameParts('a"b"')).toEqual({ error: expect.stringMatching(/whole name part/) });
    expect(parseNameParts('"ab"c')).toEqual({ error: expect.stringMatching(/followed by a dot/) });
  });

  it('globs only unquoted parts, and qualified patterns only in their schema', () => {
    const schemas = ['public', 'app'];
    expect(compile('user_*').isGlob).toBe(true);
    expect(compile('"user_*"').isGlob).toBe(false);
    expect(matchesName(compile('user_*'), { schema: 'app', name: 'user_x' }, schemas)).toBe(true);
    expect(matchesName(compile('user_*'), { schema: 'other', name: 'user_x' }, schemas)).toBe(false);
    expect(matchesName(compile('"user_*"'), { schema: 'public', name: 'user_x' }, schemas)).toBe(false);
    expect(matchesName(compile('"user_*"'), { schema: 'public', name: 'user_*' }, schemas)).toBe(true);
    expect(matchesName(compile('public.*'), { schema: 'app', name: 'x' }, schemas)).toBe(false);
    expect(matchesName(compile('{public,app}.x'), { schema: 'app', name: 'x' }, schemas)).toBe(true);
    expect(matchesName(compile('Users'), { schema: 'public', name: 'users' }, schemas)).toBe(false);
    expect(compileNamePattern('a.b.c')).toEqual({ error: expect.stringMatching(/too many dots/) });
  });

  it('writes names back the way the manifest reads them', () => {
    expect(manifestName({ schema: 'public', name: 'users' }, false)).toBe('users');
    expect(manifestName({ schema: 'app', name: 'users' }, true)).toBe('app.users');
    expect(manifestName({ schema: 'public', name: 'Billing "Audit" Log' }, false)).toBe('"Billing ""Audit"" Log"');
    expect(manifestName({ schema: 'public', name: 'a*b' }, false)).toBe('"a*b"');
    expect(yamlScalar('users')).toBe('users');
    expect(yamlScalar('"Odd"')).toBe(`'"Odd"'`);
    expect(yamlScalar(`it's`)).toBe(`"it's"`);
  });

  it('suggests only plausible typos', () => {
    expect(closest('tabels', ['tables', 'copies'])).toBe('tables');
    expect(closest('xyz', ['tables', 'copies'])).toBeNull();
    expect(closest('USERS', ['users'])).toBe('users');
  });
});
