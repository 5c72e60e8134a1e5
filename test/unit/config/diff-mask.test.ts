import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../../src/config/unified-diff.js';
import { maskLine, maskText, secretSpans, unmaskLines } from '../../../src/config/mask.js';

describe('maskLine', () => {
  it('masks URL passwords of any scheme and secret-named keys', () => {
    expect(maskLine('DATABASE_URL=postgres://svc:hunter2@h:5432/db?sslmode=disable')).toBe('DATABASE_URL=postgres://svc:***@h:5432/db?sslmode=disable');
    expect(maskLine('RABBIT=amqp://admin:admin@mq:5672')).toBe('RABBIT=amqp://admin:***@mq:5672');
    expect(maskLine('DB_PASSWORD=hunter2 # prod')).toBe('DB_PASSWORD=*** # prod');
    expect(maskLine('export PGPASSWORD="a b"')).toBe('export PGPASSWORD="***"');
    expect(maskLine('  "apiToken": "abc",')).toBe('  "apiToken": "***",');
    expect(maskLine("  password: 'pw',")).toBe("  password: '***',");
    // PW as a part of its own (DB_PW, db.pw, PW), not inside a word.
    expect(maskLine('DB_PW=Old-UserPw-1a')).toBe('DB_PW=***');
    expect(maskLine('  pw: x1')).toBe('  pw: ***');
    expect(maskLine('db.pw = x1')).toBe('db.pw = ***');
    expect(maskLine('NPWORKERS=4')).toBe('NPWORKERS=4');
  });

  it('leaves lines without secrets and URLs without passwords alone', () => {
    for (const line of ['DB_DATABASE=cloudphone_core', 'postgres://svc@h/db', 'DB_PASSWORD=', 'postgres://h:5432/db']) {
      expect(maskLine(line)).toBe(line);
    }
  });

  it('masks a text line by line keeping terminators', () => {
    expect(maskText('A=1\r\nDB_PASS=x\nB=postgres://u:p@h/d')).toBe('A=1\r\nDB_PASS=***\nB=postgres://u:***@h/d');
  });

  it('unmasks from the lines that replaced the masked ones', () => {
    const original = ['URL=postgres://u:s3cret@h/core\n', 'DB_PASSWORD=pw\n'];
    const masked = original.map(maskLine);
    expect(masked.join('')).not.toContain('s3cret');
    const current = ['URL=postgres://u:s3cret@h/user\n', 'DB_PASSWORD=pw\n'];
    expect(unmaskLines(masked, current)).toEqual(original);
    expect(unmaskLines(masked, ['URL=nothing\n'])).toBeNull();
    expect(secretSpans(masked[0]!)).toHaveLength(1);
  });
});

describe('unifiedDiff', () => {
  const before = ['# c', 'A=1', 'B=2', 'C=3', 'DB_PASSWORD=hunter2', 'DATABASE_URL=postgres://u:hunter2@h/core', 'E=5', 'F=6', 'G=7', 'H=8', 'I=9', 'J=10', 'K=11', 'L=12', 'DB=core', ''].join('\n');
  const after = before.replace('h/core', 'h/user').replace('DB=core', 'DB=user');

  it('shows hunks with 3 lines of context, every password masked', () => {
    const diff = unifiedDiff('.env', before, after);
    expect(diff).toBe(
      [
        '--- .env',
        '+++ .env',
        '@@ -3,7 +3,7 @@',
        ' B=2',
        ' C=3',
        ' DB_PASSWORD=***',
        '-DATABASE_URL=postgres://u:***@h/core',
        '+DATABASE_URL=postgres://u:***@h/user',
        ' E=5',
        ' F=6',
        ' G=7',
        '@@ -12,4 +12,4 @@',
        ' J=10',
        ' K=11',
        ' L=12',
        '-DB=core',
        '+DB=user',
        '',
      ].join('\n'),
    );
    expect(diff).not.toContain('hunter2');
  });

  it('merges close changes into one hunk, marks a missing final newline, and is empty without change', () => {
    const diff = unifiedDiff('f', 'a\nb\nc', 'a\nB\nc');
    expect(diff).toBe('--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n');
    expect(unifiedDiff('f', 'same\n', 'same\n')).toBe('');
  });

  it('counts added and removed lines', () => {
    expect(unifiedDiff('f', 'a\n', 'a\nb\nc\n')).toBe('--- f\n+++ f\n@@ -1 +1,3 @@\n a\n+b\n+c\n');
    expect(unifiedDiff('f', '', 'x\n')).toBe('--- f\n+++ f\n@@ -0,0 +1 @@\n+x\n');
  });
});

describe('a password with @ in a config URL', () => {
  it('is masked whole, up to the @ that ends the userinfo', () => {
    expect(maskLine('DATABASE_URL=postgres://app:p@ss@w0rd@db:5432/core')).toBe('DATABASE_URL=postgres://app:***@db:5432/core');
  });
});
