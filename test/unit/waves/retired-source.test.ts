import { describe, expect, it } from 'vitest';
import { retiringSplitOf } from '../../../src/waves/retired-source.js';
import { retentionComment } from '../../../src/steps/schedule-retention.js';
import { tableRetentionComment } from '../../../src/retention/table-backup.js';

describe('retiringSplitOf', () => {
  it('reads back the split and expiry from the comment schedule_retention writes on a retired database, and nothing else', () => {
    expect(retiringSplitOf(retentionComment('wave-3 rest', '2026-12-13T04:00:00.000Z'))).toEqual({ split: 'wave-3 rest', expires: '2026-12-13T04:00:00.000Z' });
    expect(retiringSplitOf(tableRetentionComment('wave-1', '2026-12-13T04:00:00.000Z'))).toBeNull();
    expect(retiringSplitOf('the shared database of the platform')).toBeNull();
    expect(retiringSplitOf(null)).toBeNull();
  });
});
