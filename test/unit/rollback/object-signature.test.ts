import { describe, expect, it } from 'vitest';
import { signatureChanges } from '../../../src/rollback/object-signature.js';

describe('signatureChanges', () => {
  const then = ['schema app\t', 'sequence app.invoice_no\t1000', 'sequence app.unused_seq\tunused', "type app.status\t('a', 'b')", 'view app.v\tabc', 'column app.t.x\tinteger'];

  it('is empty when nothing changed', () => {
    expect(signatureChanges(then, [...then])).toEqual([]);
  });

  it('names a sequence drawn from, one first used, an enum label added (once), a column changed, an object made and one dropped', () => {
    const now = ['schema app\t', 'sequence app.invoice_no\t1001', 'sequence app.unused_seq\t1', "type app.status\t('a', 'b', 'c')", 'function app.f()\tdef', 'column app.t.x\tinteger NOT NULL'];
    expect(signatureChanges(then, now)).toEqual([
      'sequence app.invoice_no gave out values since the copy (last value 1000 then, 1001 now)',
      'sequence app.unused_seq gave out values since the copy (last value unused then, 1 now)',
      "type app.status was changed since the copy (('a', 'b') then, ('a', 'b', 'c') now)",
      'view app.v was dropped since the copy',
      'column app.t.x was changed since the copy (integer then, integer NOT NULL now)',
      'function app.f() was created since the copy',
    ]);
  });

  it('compares comments when the baseline recorded them, and leaves them out against a baseline of an earlier version', () => {
    const v2 = [...then, '~ comments\t', 'comment on relation app.t\tabc'];
    expect(signatureChanges(v2, [...then, '~ comments\t', 'comment on relation app.t\tdef', 'comment on function app.g()\t123'])).toEqual([
      'comment on relation app.t was changed since the copy',
      'comment on function app.g() was created since the copy',
    ]);
    expect(signatureChanges(then, [...then, '~ comments\t', 'comment on relation app.t\tdef'])).toEqual([]);
  });
});
