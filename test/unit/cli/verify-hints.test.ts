import { describe, expect, it } from 'vitest';
import { VERIFY_HINTS, hintFor } from '../../../src/cli/views/verify.js';

describe('what verify says to do about a failed check', () => {
  it('tells a partition one side lacks from rows missing or extra, for each side', () => {
    const newOnly = hintFor({
      kind: 'rowcount',
      detail: 'rows through partitioned table public.device_events differ: source 1000, target 1001 (1 extra in db); partition public.device_events_2031_01 (1 rows) of public.device_events in db is not one in the source',
    });
    expect(newOnly).toContain('a partition exists in the new database only');
    const sourceOnly = hintFor({
      kind: 'rowcount',
      detail: 'partition public.device_events_2031_01 (3 rows in the source) was created or attached in the source after the plan was made: it was never copied to db',
    });
    expect(sourceOnly).toContain('a partition exists in the source only');
    expect(hintFor({ kind: 'rowcount', detail: 'row counts differ: source 2, target 3 (1 extra in db)' })).toBe(VERIFY_HINTS.rowcount);
    expect(hintFor({ kind: 'checksum', detail: 'is not one in the source' })).toBe(VERIFY_HINTS.checksum);
  });
});
