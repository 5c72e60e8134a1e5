import { describe, expect, it } from 'vitest';
import { afterCommitOf, createIndexes, vacuumAnalyzeSql } from '../../../src/steps/create-indexes.js';
import { TARGET_SESSION_SETTINGS } from '../../../src/steps/session-cache.js';
import type { CreateIndexesStep } from '../../../src/plan/model.js';

const step = (table: string | undefined, afterCommit?: string[]): CreateIndexesStep =>
  ({ id: `create_indexes:db:${table ?? 'foreign_keys'}`, kind: 'create_indexes', table, afterCommit, sql: [], dependsOn: [], description: '', target: { service: 's', server: 'source', database: 'db' } }) as CreateIndexesStep;

describe('afterCommitOf (a batch of index steps)', () => {
  it('vacuums the tables of the batch in one statement, in the batch order', () => {
    const steps = [step('public.a', [vacuumAnalyzeSql({ schema: 'public', name: 'a' })]), step('sales.B', [vacuumAnalyzeSql({ schema: 'sales', name: 'B' })])];
    expect(afterCommitOf(steps)).toEqual(['VACUUM (ANALYZE) "public"."a", "sales"."B"']);
  });

  it('runs any other statement as it is, and nothing when there is nothing to run', () => {
    expect(afterCommitOf([step('public.a', ['ANALYZE "public"."a"']), step(undefined)])).toEqual(['ANALYZE "public"."a"']);
    expect(afterCommitOf([step(undefined), step('public.a')])).toEqual([]);
  });
});

describe('target session settings of copies and index builds', () => {
  it('turn off the wait for WAL flushes and leave maintenance_work_mem to the server (64MB built 8 M-row indexes faster than 512MB: docs/benchmarks.md)', () => {
    const rendered = createIndexes.render(step('public.a'));
    expect(rendered.slice(0, TARGET_SESSION_SETTINGS.length)).toEqual([...TARGET_SESSION_SETTINGS]);
    expect(rendered).toContain('SET synchronous_commit = off');
    expect(rendered.filter((s) => /maintenance_work_mem/i.test(s))).toEqual([]);
  });
});
