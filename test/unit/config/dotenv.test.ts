import { describe, expect, it } from 'vitest';
import { editDotenv, readDotenv } from '../../../src/config/dotenv.js';
import { ConfigEditError } from '../../../src/config/config-edit-error.js';

const ENV = [
  '# database of the user service',
  'DB_HOST=localhost',
  '',
  'DB_DATABASE=cloudphone_core   # shared, for now',
  "export DB_USER='postgres'",
  'DB_PASSWORD="s3cr=t#x"',
  'RABBITMQ_URL=amqp://admin:admin@localhost:5672',
  '',
].join('\n');

describe('editDotenv', () => {
  it('changes only the value, keeping comments, blank lines, order and the trailing comment', () => {
    const out = editDotenv(ENV, 'DB_DATABASE', 'cloudphone_user');
    expect(out).toBe(ENV.replace('DB_DATABASE=cloudphone_core', 'DB_DATABASE=cloudphone_user'));
  });

  it('keeps export lines and single quotes', () => {
    const out = editDotenv(ENV, 'DB_USER', 'user_svc');
    expect(out).toContain("export DB_USER='user_svc'\n");
    expect(out.split('\n').length).toBe(ENV.split('\n').length);
  });

  it('keeps double quotes and escapes a quote inside them', () => {
    const text = 'DATABASE_URL="postgres://u:p@h/db"\n';
    expect(editDotenv(text, 'DATABASE_URL', 'postgres://u:p@h/new')).toBe('DATABASE_URL="postgres://u:p@h/new"\n');
    const quoted = editDotenv(text, 'DATABASE_URL', 'a"b');
    expect(quoted).toBe('DATABASE_URL="a\\"b"\n');
    expect(readDotenv(quoted, 'DATABASE_URL')).toBe('a"b');
  });

  it('quotes a new unquoted value that needs it, and a single-quoted one holding a quote', () => {
    expect(editDotenv('NAME=old\n', 'NAME', 'has space')).toBe('NAME="has space"\n');
    expect(editDotenv('NAME=old\n', 'NAME', 'a#b')).toBe('NAME="a#b"\n');
    expect(editDotenv("NAME='old'\n", 'NAME', "it's")).toBe('NAME="it\'s"\n');
  });

  it('keeps CRLF line endings, spaces around = and an empty value', () => {
    const text = 'A=1\r\nDB_DATABASE = core\r\nEMPTY=\r\nB=2\r\n';
    expect(editDotenv(text, 'DB_DATABASE', 'x')).toBe('A=1\r\nDB_DATABASE = x\r\nEMPTY=\r\nB=2\r\n');
    expect(editDotenv(text, 'EMPTY', 'y')).toBe('A=1\r\nDB_DATABASE = core\r\nEMPTY=y\r\nB=2\r\n');
  });

  it('edits every assignment of a repeated key, and reads the last one', () => {
    const text = 'DB=a\nX=1\nDB=b\n';
    expect(readDotenv(text, 'DB')).toBe('b');
    expect(editDotenv(text, 'DB', 'c')).toBe('DB=c\nX=1\nDB=c\n');
  });

  it('does not mistake lines inside a multi-line quoted value for keys', () => {
    const text = 'CERT="line1\nDB_DATABASE=inside\nline3"\nDB_DATABASE=core\n';
    expect(editDotenv(text, 'DB_DATABASE', 'new')).toBe('CERT="line1\nDB_DATABASE=inside\nline3"\nDB_DATABASE=new\n');
  });

  it('handles unicode values and keeps a file without a final newline as is', () => {
    const text = '# café\nDB_DATABASE=core';
    expect(editDotenv(text, 'DB_DATABASE', 'données_é')).toBe('# café\nDB_DATABASE=données_é');
  });

  it('refuses a missing key, naming it and the keys present', () => {
    let err: unknown;
    try {
      editDotenv(ENV, 'DB_NAME', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigEditError);
    const e = err as ConfigEditError;
    expect(e.message).toContain('DB_NAME');
    expect(e.fix).toContain('DB_DATABASE');
    expect(e.fix).toContain('DB_NAME=');
  });

  it('reads values: unquoted without comment, quoted without quotes, missing as null', () => {
    expect(readDotenv(ENV, 'DB_DATABASE')).toBe('cloudphone_core');
    expect(readDotenv(ENV, 'DB_PASSWORD')).toBe('s3cr=t#x');
    expect(readDotenv(ENV, 'DB_USER')).toBe('postgres');
    expect(readDotenv(ENV, 'NOPE')).toBeNull();
  });
});
