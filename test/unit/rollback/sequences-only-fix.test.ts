import { describe, expect, it } from 'vitest';
import { sequencesOnlyFix } from '../../../src/rollback/rollback-split.js';

describe('sequencesOnlyFix: a refused rollback where only sequences moved on', () => {
  it('gives the statement that sets each back: setval to its value then, RESTART for one never used', () => {
    expect(
      sequencesOnlyFix([
        { database: 'lemmy_content', change: 'sequence public.post_id_seq gave out values since the copy (last value 50000 then, 50001 now)' },
        { database: 'lemmy_users', change: 'sequence public.fresh_seq gave out values since the copy (last value unused then, 1 now)' },
      ]),
    ).toBe(
      'no row changed, only sequences moved on (an INSERT that failed or was rolled back draws a value too): if nothing uses the values they gave out, set each back and run rollback again ' +
        "(in lemmy_content: SELECT setval('public.post_id_seq', 50000); in lemmy_users: ALTER SEQUENCE public.fresh_seq RESTART); if a service did write there, keep the split",
    );
  });

  it('is null when anything else changed too: rows are at stake', () => {
    expect(sequencesOnlyFix([{ database: 'a', change: 'sequence public.s gave out values since the copy (last value 5 then, 6 now)' }, { database: 'a', change: 'view public.v was created since the copy' }])).toBeNull();
    expect(sequencesOnlyFix([])).toBeNull();
  });
});
