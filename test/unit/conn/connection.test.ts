import { describe, expect, it } from 'vitest';
import { parse } from 'pg-connection-string';
import {
  databaseOf,
  normalizeConnection,
  parseConnection,
  redact,
  serverOf,
  userOf,
  withCredentials,
  withDatabase,
} from '../../../src/conn/connection.js';
import { BadInputError } from '../../../src/errors.js';
import { parseKeywordValue, quoteKeywordValue } from '../../../src/conn/libpq-keywords.js';

const HARD = `p@ss #w:o%rd 'q" \\x`;

describe('connection strings in every form libpq accepts', () => {
  it('reads a URL, a key=value string and a Unix socket alike', () => {
    const url = parseConnection(`postgres://app:${encodeURIComponent(HARD)}@db.internal:5433/core?sslmode=disable`);
    expect(url).toEqual({ host: 'db.internal', port: '5433', user: 'app', password: HARD, database: 'core', params: { sslmode: 'disable' } });
    const kv = parseConnection(`host=db.internal port = 5433 dbname=core user=app password=${quoteKeywordValue(HARD)} sslmode=disable`);
    expect(kv).toEqual(url);
    const query = parseConnection(`postgresql://app@db.internal:5433/core?sslmode=disable&password=${encodeURIComponent(HARD)}`);
    expect(query).toEqual(url);
    const socket = parseConnection('postgres://app@/core?host=/var/run/postgresql');
    expect(socket).toMatchObject({ host: '/var/run/postgresql', user: 'app', database: 'core' });
    expect(parseConnection('host=/var/run/postgresql dbname=core user=app')).toMatchObject({ host: '/var/run/postgresql', database: 'core' });
  });

  it('gives one URL form that new URL, node-postgres and libpq read back the same', () => {
    for (const text of [
      `host=db port=5433 dbname='my db' user=app password=${quoteKeywordValue(HARD)}`,
      'postgres://app@/core?host=/var/run/postgresql',
      `postgres://app:${encodeURIComponent(HARD)}@[::1]:5433/core`,
    ]) {
      const c = parseConnection(text);
      const url = normalizeConnection(text);
      expect(() => new URL(url)).not.toThrow();
      const back = parse(url);
      expect(back.host).toBe(c.host);
      expect(back.password ?? null).toBe(c.password === null ? '' : c.password);
      expect(back.database).toBe(c.database);
      expect(parseConnection(url)).toEqual(c);
    }
  });

  it('refuses an unencoded # with exit 2 and a fix, never quoting the text', () => {
    const err = (() => {
      try {
        parseConnection('postgres://app:hunter#22@db/core', 'source.url');
      } catch (e) {
        return e as BadInputError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(BadInputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('source.url');
    expect(err.message).toContain('#');
    expect(err.hint).toContain('%23');
    expect(`${err.message} ${err.hint}`).not.toContain('hunter');
    expect(() => parseConnection('mysql://u@h/db')).toThrow(BadInputError);
    expect(() => parseConnection("host=h password='unterminated")).toThrow(/key=value/);
  });

  it('refuses several hosts (libpq\'s failover list) in every form, saying to name the primary, never quoting the password', () => {
    for (const text of ['postgres://app:s3cret@h1:5432,h2:5432/core', 'postgresql://app:s3cret@h1,h2/core?sslmode=require', "host=h1,h2 port=5432,5433 dbname=core user=app password='s3cret'"]) {
      let err: BadInputError | undefined;
      try {
        parseConnection(text, 'source.url');
      } catch (e) {
        err = e as BadInputError;
      }
      expect(err, text).toBeInstanceOf(BadInputError);
      expect(err!.exitCode).toBe(2);
      expect(err!.message).toContain('source.url: the connection string names several hosts');
      expect(err!.hint).toContain('primary');
      expect(`${err!.message} ${err!.hint}`).not.toContain('s3cret');
    }
  });

  it('changes the database and the credentials, keeping the rest', () => {
    expect(withDatabase('postgres://u:p@h:5433/a?sslmode=disable', 'b c')).toBe('postgres://u:p@h:5433/b%20c?sslmode=disable');
    expect(withCredentials('postgres://u:p@h:5433/a', 'svc', 'x@y')).toBe('postgres://svc:x%40y@h:5433/a');
    expect(withDatabase('host=/tmp port=5433 user=u dbname=a', 'b')).toBe('postgres://u@%2Ftmp:5433/b');
    expect(serverOf('postgres://u@h/a')).toBe('h:5432');
    expect(serverOf('host=/tmp port=5433')).toBe('/tmp:5433');
    expect(databaseOf('dbname=x host=h')).toBe('x');
    expect(userOf('postgres://a%40b@h/x')).toBe('a@b');
  });

  it('redacts the password of every form', () => {
    expect(redact('postgres://svc:s3cret@db:5432/x?sslmode=require')).toBe('postgres://svc:***@db:5432/x?sslmode=require');
    expect(redact('postgres://svc@db/x')).toBe('postgres://svc@db/x');
    expect(redact("host=db password='s3 cret' dbname=x")).toBe('postgres://:***@db/x');
    expect(redact('postgres://svc@db/x?password=s3cret')).toBe('postgres://svc:***@db/x');
    // Not parsable: masked by shape.
    expect(redact('postgres://svc:s3c#ret@db/x')).not.toContain('s3c');
  });

  it('reads key=value strings as libpq does', () => {
    expect(parseKeywordValue("a=1 b = 'x y' c=\\'q d=''")).toEqual(new Map([['a', '1'], ['b', 'x y'], ['c', "'q"], ['d', '']]));
    expect(parseKeywordValue('a 1')).toBeNull();
  });
});
