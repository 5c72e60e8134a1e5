import { describe, expect, it } from 'vitest';
import { applyReversePatch, isConfigBackup, reversePatch } from '../../../src/config/backup.js';

describe('reversePatch', () => {
  it('stores only the changed lines, masked, and rebuilds the original byte for byte', () => {
    const before = 'A=1\r\nDATABASE_URL="postgres://u:s3cret@h:5432/core?sslmode=disable"\r\nDB_PASSWORD=s3cret\r\nDB=core\r\nZ=ü';
    const after = before.replace('/core?', '/user?').replace('DB=core', 'DB=user');
    const hunks = reversePatch(before, after);
    expect(JSON.stringify(hunks)).not.toContain('s3cret');
    expect(JSON.stringify(hunks)).not.toContain('Z=');
    expect(hunks).toEqual([
      { at: 1, remove: 1, lines: ['DATABASE_URL="postgres://u:***@h:5432/core?sslmode=disable"\r\n'] },
      { at: 3, remove: 1, lines: ['DB=core\r\n'] },
    ]);
    expect(applyReversePatch(after, hunks)).toBe(before);
  });

  it('handles changes in line count and a change of the last line', () => {
    const before = 'one\ntwo\nthree';
    const after = 'one\n2a\n2b\nTHREE';
    expect(applyReversePatch(after, reversePatch(before, after))).toBe(before);
    expect(reversePatch('same\n', 'same\n')).toEqual([]);
  });

  it('cannot rebuild when the secrets on the replaced lines are gone', () => {
    const before = 'URL=postgres://u:pw@h/core\n';
    const hunks = reversePatch(before, 'URL=postgres://u:pw@h/user\n');
    expect(applyReversePatch('URL=changed\n', hunks)).toBeNull();
  });

  it('recognises a backup in journal JSON', () => {
    expect(isConfigBackup(JSON.parse(JSON.stringify({ file: 'a', beforeHash: 'x', afterHash: 'y', hunks: [{ at: 0, remove: 1, lines: ['a'] }] })))).toBe(true);
    expect(isConfigBackup({ file: 'a', beforeHash: 'x', afterHash: 'y', hunks: null })).toBe(true);
    expect(isConfigBackup({ file: 'a', beforeHash: 'x', hunks: [] })).toBe(false);
    expect(isConfigBackup({ file: 'a', beforeHash: 'x', afterHash: 'y', hunks: [{ at: '0' }] })).toBe(false);
  });
});
