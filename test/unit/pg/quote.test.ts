import { describe, expect, it } from 'vitest';
import { ident, literal, parseQualified, qname } from '../../../src/pg/quote.js';
import { redact, scrub, withDatabase, withCredentials, serverOf } from '../../../src/pg/url.js';

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

describe('urls', () => {
  it('redacts passwords', () => {
    expect(redact('postgres://svc:s3cret@db:5432/x?sslmode=require')).toBe('postgres://svc:***@db:5432/x?sslmode=require');
    expect(redact('postgres://svc@db/x')).toBe('postgres://svc@db/x');
  });
  it('scrubs known secrets and URL passwords from free text', () => {
    expect(scrub('login failed for s3cret at postgres://u:p4ss@h/db', ['s3cret'])).toBe('login failed for *** at postgres://u:***@h/db');
    // A password equal to the URL scheme: the scheme stays readable, every other occurrence goes.
    expect(scrub('cannot connect to postgres://postgres:postgres@h/db as postgres', ['postgres'])).toBe('cannot connect to postgres://***:***@h/db as ***');
    // Regular-expression characters in a secret are taken literally.
    expect(scrub('pw a.b*c(d) and axbbbc(d)', ['a.b*c(d)'])).toBe('pw *** and axbbbc(d)');
  });
  it('changes database and credentials keeping the rest', () => {
    expect(withDatabase('postgres://u:p@h:5433/a?sslmode=disable', 'b c')).toBe('postgres://u:p@h:5433/b%20c?sslmode=disable');
    expect(withCredentials('postgres://u:p@h:5433/a', 'svc', 'x@y')).toBe('postgres://svc:x%40y@h:5433/a');
    expect(serverOf('postgres://u@h/a')).toBe('h:5432');
  });
});
