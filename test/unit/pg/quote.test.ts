import { describe, expect, it } from 'vitest';
import { ident, literal, parseQualified, qname } from '../../../src/pg/quote.js';

describe('quoting', () => {
  it('always double-quotes identifiers and doubles embedded quotes', () => {
    expect(ident('users')).toBe('"users"');
    expect(ident('Billing "Audit" Log')).toBe('"Billing ""Audit"" Log"');
    expect(qname({ schema: 'public', name: 'a.b' })).toBe('"public"."a.b"');
  });
  it('rejects NUL bytes', () => {
    expect(() => ident('a\0b')).toThrow(/NUL/);
    expect(() => literal('a\0b')).toThrow(/NUL/);
  });
  it('quotes literals, with E-strings for backslashes', () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(literal('a\\b')).toBe("E'a\\\\b'");
    expect(literal("x'); DROP TABLE users; --")).toBe("'x''); DROP TABLE users; --'");
  });
  it('parses qualified and quoted names as written in a manifest', () => {
    expect(parseQualified('users', 'public')).toEqual({ schema: 'public', name: 'users' });
    expect(parseQualified('billing.orders', 'public')).toEqual({ schema: 'billing', name: 'orders' });
    expect(parseQualified('"My Schema"."Odd ""name"""', 'public')).toEqual({ schema: 'My Schema', name: 'Odd "name"' });
    expect(() => parseQualified('a.b.c', 'public')).toThrow(/too many dots/);
  });
});
