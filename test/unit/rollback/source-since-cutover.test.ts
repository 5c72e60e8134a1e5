import { describe, expect, it } from 'vitest';
import { copiedBackTables, copiesOf, sourceWrittenError } from '../../../src/rollback/source-since-cutover.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { toyPlan } from '../engine/toy-plan.js';
import { ExitCode } from '../../../src/errors.js';

const logs = { service: 'logs', server: 'source', database: 'logs_db' };
const auth = { service: 'auth', server: 'b', database: 'auth_db' };
const steps = [
  { id: 'verify_rowcounts:logs_db', kind: 'verify_rowcounts', target: logs, tables: ['public.audit'] },
  { id: 'verify_rowcounts:auth_db', kind: 'verify_rowcounts', target: auth, tables: ['public.sessions'] },
  { id: 'copy_back:logs_db', kind: 'copy_back', target: logs, leaves: [{ table: 'public.audit', columns: ['at'] }] },
  { id: 'copy_back:auth_db', kind: 'copy_back', target: auth, leaves: [{ table: 'public.sessions', columns: ['sid'] }] },
] as unknown as Step[];
const plan: Plan = { ...toyPlan('two', []), mode: 'online', steps };
const sum = (s: string) => ({ rows: 2, sum: s, method: 'exact', major: 16 });
const done = new Map([
  ['verify_rowcounts:logs_db', { detail: { counts: { 'public.audit': 2 }, sums: { 'public.audit': sum('1') }, sourceSums: { 'public.audit': sum('2') } } }],
  ['verify_rowcounts:auth_db', { detail: { counts: { 'public.sessions': 2 } } }],
]);

describe('what rollback compares the source with before copying tables back', () => {
  it('is each copied-back table\'s cutover record, by table, all databases or one', () => {
    expect(copiedBackTables(plan)).toEqual(['public.audit', 'public.sessions']);
    expect([...copiesOf(plan, done).keys()]).toEqual(['public.audit', 'public.sessions']);
    const one = copiesOf(plan, done, auth);
    expect([...one.entries()]).toEqual([['public.sessions', { rows: 2, sum: null, sourceSum: null }]]);
    expect(copiesOf(plan, done, logs).get('public.audit')?.sourceSum?.sum).toBe('2');
  });

  it("leaves out, when asked for the pending ones, the tables of a copy_back an interrupted rollback already did", () => {
    const interrupted = new Map<string, { detail: Record<string, unknown> }>([...done, ['copy_back:logs_db', { detail: { tables: 1 } }]]);
    expect([...copiesOf(plan, interrupted, undefined, { pending: true }).keys()]).toEqual(['public.sessions']);
    // Still known as tables rollback copies back, so --discard-source-writes may name them.
    expect([...copiesOf(plan, interrupted).keys()]).toEqual(['public.audit', 'public.sessions']);
  });

  it('refuses with exit 1, naming each table and the flag that lets rollback replace them', () => {
    const err = sourceWrittenError('two', 'core', [{ table: 'public.audit', what: '2 rows at cutover, 3 now' }], false);
    expect(err.exitCode).toBe(ExitCode.difference);
    expect(err.message).toContain('a table of core copied at cutover changed since, behind the fence');
    expect(err.message).toContain('public.audit: 2 rows at cutover, 3 now');
    expect(err.message).toContain('nothing was changed');
    expect(err.hint).toContain('`cloudphone-split rollback --discard-source-writes public.audit`');
    const fenced = sourceWrittenError('two', 'core', [{ table: 'public.audit', what: 'x' }], true).message;
    expect(fenced).toContain('the new databases are fenced');
    // Other copy_back steps may have replaced their tables already: only the named ones are said to be left as they are.
    expect(fenced).toContain('that table was left as it is in core');
    expect(fenced).not.toContain('core is unchanged');
  });
});
