import { describe, expect, it } from 'vitest';
import { signatureChanges } from '../../../src/rollback/object-signature.js';

describe('signatureChanges', () => {
  const then = ['schema app', 'sequence app.invoice_no 1000', 'sequence app.unused_seq unused', "type app.status ('a', 'b')", 'view app.v'];

  it('is empty when nothing changed', () => {
    expect(signatureChanges(then, [...then])).toEqual([]);
  });

  it('names a sequence drawn from, one first used, an enum label added, an object made and one dropped', () => {
    const now = ['schema app', 'sequence app.invoice_no 1001', 'sequence app.unused_seq 1', "type app.status ('a', 'b', 'c')", 'function app.f()'];
    expect(signatureChanges(then, now)).toEqual([
      'sequence app.invoice_no gave out values since the copy (last value 1000 then, 1001 now)',
      'sequence app.unused_seq gave out values since the copy (last value unused then, 1 now)',
      "type app.status ('a', 'b', 'c'): created or changed since the copy",
      'function app.f(): created or changed since the copy',
      "type app.status ('a', 'b'): dropped or changed since the copy",
      'view app.v: dropped or changed since the copy',
    ]);
  });
});
