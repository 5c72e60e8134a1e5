import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { servers, pg15, query, uniquePrefix, withDatabase } from '../harness/servers.js';
import { Journal } from '../../src/engine/journal.js';
import { migrateJournal, controlUrlFor, CONTROL_DATABASE } from '../../src/engine/journal-db.js';
import { planHash } from '../../src/engine/plan-hash.js';
import { BadInputError } from '../../src/errors.js';
import { toyPlan } from '../unit/engine/toy-plan.js';

const prefix = uniquePrefix();
const controlUrl = () => withDatabase(servers().main, `${prefix}control`);
let journal: Journal;

beforeAll(async () => {
  journal = await Journal.open(controlUrl());
});
afterAll(async () => {
  await journal?.close();
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

describe('journal schema', () => {
  it('is opened by two first runs at once, each making the control database if missing, without either failing', async () => {
    // Two applies started together: both find no control database and both CREATE it; the loser's error (42P04, or
    // 23505 when the winner committed while it ran) means it is there. Seen failing with 23505 two times in three.
    for (let i = 0; i < 6; i++) {
      const url = withDatabase(servers().main, `${prefix}race${i}`);
      try {
        const both = await Promise.allSettled([Journal.open(url), Journal.open(url)]);
        for (const r of both) if (r.status === 'fulfilled') await r.value.close();
        expect(both.map((r) => (r.status === 'rejected' ? String(r.reason) : 'opened'))).toEqual(['opened', 'opened']);
      } finally {
        await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}race${i}" WITH (FORCE)`);
      }
    }
  });

  it('creates the control database and the journal tables on first open', async () => {
    const tables = await query<{ table_name: string }>(
      controlUrl(),
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'cloudphone_split' ORDER BY 1`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      ['created_objects', 'facts', 'migrations', 'migrations_lock', 'retention', 'runs', 'splits', 'steps', 'verifications'].sort(),
    );
    const applied = await query<{ name: string }>(controlUrl(), `SELECT name FROM cloudphone_split.migrations ORDER BY name`);
    expect(applied.map((r) => r.name)).toEqual(['0001_journal', '0002_verifications']);
  });

  it('is idempotent: opening again and migrating again apply nothing', async () => {
    const again = await Journal.open(controlUrl());
    await again.close();
    const pool = new pg.Pool({ connectionString: controlUrl(), max: 1 });
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    try {
      expect(await migrateJournal(db)).toEqual([]);
    } finally {
      await db.destroy();
    }
    const applied = await query(controlUrl(), `SELECT name FROM cloudphone_split.migrations`);
    expect(applied).toHaveLength(2);
  });

  it('keeps the state machines in SQL constraints', async () => {
    await query(controlUrl(), `INSERT INTO cloudphone_split.splits (name) VALUES ('constraints')`);
    const bad = [
      `INSERT INTO cloudphone_split.splits (name) VALUES ('Bad Name')`,
      `INSERT INTO cloudphone_split.runs (split, plan_hash, plan, state) VALUES ('constraints', '${'a'.repeat(64)}', '{}', 'exploded')`,
      `INSERT INTO cloudphone_split.runs (split, plan_hash, plan, state, finished_at) VALUES ('constraints', '${'a'.repeat(64)}', '{}', 'failed', now())`,
      `INSERT INTO cloudphone_split.runs (split, plan_hash, plan) VALUES ('nosuchsplit', '${'a'.repeat(64)}', '{}')`,
      `INSERT INTO cloudphone_split.retention (split, server, database, expires_at, state) VALUES ('constraints', 's', 'd', now(), 'lost')`,
    ];
    for (const statement of bad) {
      await expect(query(controlUrl(), statement), statement).rejects.toMatchObject({ code: expect.stringMatching(/^23/) });
    }
  });

  it('works on a PostgreSQL 15 control server too', async () => {
    const url = withDatabase(pg15(), `${prefix}control15`);
    const j15 = await Journal.open(url);
    try {
      const plan = toyPlan('pg15', [{ id: 'a' }]);
      const { runId } = await j15.startRun('pg15', plan);
      await j15.stepStarted(runId, 'a');
      await j15.stepDone(runId, 'a', { rows: 1 });
      await j15.finishRun(runId, 'succeeded');
      expect((await j15.status('pg15')).runs[0]).toMatchObject({ state: 'succeeded', steps: [{ id: 'a', state: 'done', rows: 1 }] });
    } finally {
      await j15.close();
      await query(pg15(), `DROP DATABASE IF EXISTS "${prefix}control15" WITH (FORCE)`);
    }
  });

  it('defaults the control database to "cloudphone_split" on the source server', () => {
    expect(controlUrlFor('postgres://u:p@h:5433/core', null)).toBe('postgres://u:p@h:5433/cloudphone_split');
    expect(CONTROL_DATABASE).toBe('cloudphone_split');
    expect(controlUrlFor('postgres://u:p@h/core', 'postgres://x@y/z')).toBe('postgres://x@y/z');
  });
});

describe('runs and steps', () => {
  const plan = toyPlan('runs', [{ id: 'a' }, { id: 'b', dependsOn: ['a'], service: 'svc', table: 'public.t' }, { id: 'c', dependsOn: ['b'] }]);

  it('starts a run with every step pending, records before/after, and resumes the same plan', async () => {
    const first = await journal.startRun('runs', plan);
    expect(first).toMatchObject({ resumed: false, planHash: planHash(plan) });
    await journal.stepStarted(first.runId, 'a');
    let status = await journal.status('runs');
    expect(status.runs[0]!.steps.map((s) => [s.id, s.state])).toEqual([
      ['a', 'running'],
      ['b', 'pending'],
      ['c', 'pending'],
    ]);
    await journal.stepDone(first.runId, 'a', { rows: 12, bytes: 3400, detail: { count: 12, tables: ['x'] } });
    await journal.stepStarted(first.runId, 'b');
    await journal.stepFailed(first.runId, 'b', 'boom');
    await journal.finishRun(first.runId, 'failed', 'step b failed: boom');

    expect([...(await journal.doneSteps('runs')).keys()]).toEqual(['a']);
    expect(await journal.result('runs', 'a')).toEqual({ rows: 12, bytes: 3400, detail: { count: 12, tables: ['x'] } });
    expect(await journal.view('runs', first.planHash).result('b')).toBeUndefined();

    const again = await journal.startRun('runs', plan);
    expect(again).toMatchObject({ runId: first.runId, resumed: true, previousState: 'failed' });
    status = await journal.status('runs');
    expect(status.runs).toHaveLength(1);
    expect(status.runs[0]).toMatchObject({ id: first.runId, state: 'running', finishedAt: null });
    expect(status.runs[0]!.steps[0]).toMatchObject({ id: 'a', kind: 'grant', state: 'done', rows: 12, bytes: 3400 });
    expect(status.runs[0]!.steps[1]).toMatchObject({ id: 'b', state: 'failed', error: 'boom', service: 'svc', table: 'public.t' });
  });

  it('refuses to resume an unfinished run with a different plan', async () => {
    const other = toyPlan('runs', [{ id: 'a' }, { id: 'z' }]);
    const err = await journal.startRun('runs', other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).message).toContain('refusing to resume with a different plan');
    expect((err as BadInputError).hint).toMatch(/rollback/);
    expect((err as BadInputError).hint).toMatch(/original plan file/);
  });

  it('resumes an unfinished run with a plan whose statistics estimates moved (autovacuum between two plans)', async () => {
    const replanned = toyPlan('runs', [
      { id: 'a', bytes: 987654 },
      { id: 'b', dependsOn: ['a'], service: 'svc', table: 'public.t', bytes: 1 },
      { id: 'c', dependsOn: ['b'] },
    ]);
    for (const step of replanned.steps) (step as unknown as Record<string, unknown>).rowsEstimate = 4242;
    const again = await journal.startRun('runs', replanned);
    expect(again).toMatchObject({ resumed: true, planHash: planHash(plan) });
    expect([...(await journal.doneSteps('runs')).keys()]).toEqual(['a']);
  });

  it('starts a new run after success; rolled-back runs no longer count as done', async () => {
    const { runId } = await journal.startRun('runs', plan);
    for (const id of ['b', 'c']) {
      await journal.stepStarted(runId, id);
      await journal.stepDone(runId, id, {});
    }
    await journal.finishRun(runId, 'succeeded');
    const next = await journal.startRun('runs', plan);
    expect(next.resumed).toBe(false);
    expect(next.runId).toBeGreaterThan(runId);
    expect([...(await journal.doneSteps('runs', next.planHash)).keys()].sort()).toEqual(['a', 'b', 'c']);
    await journal.finishRun(next.runId, 'succeeded');

    await journal.markRolledBack('runs');
    expect((await journal.doneSteps('runs', next.planHash)).size).toBe(0);
    const fresh = await journal.startRun('runs', toyPlan('runs', [{ id: 'other' }]));
    expect(fresh.resumed).toBe(false);
  });

  it('status() has the SPEC shape, newest run first', async () => {
    const status = await journal.status('runs');
    expect(status.name).toBe('runs');
    expect(status.runs.map((r) => r.id)).toEqual([...status.runs.map((r) => r.id)].sort((a, b) => b - a));
    for (const run of status.runs) {
      expect(run).toEqual(
        expect.objectContaining({ id: expect.any(Number), state: expect.any(String), startedAt: expect.any(String), steps: expect.any(Array) }),
      );
      expect(run.finishedAt === null || typeof run.finishedAt === 'string').toBe(true);
      expect(Number.isNaN(Date.parse(run.startedAt))).toBe(false);
      for (const step of run.steps) {
        expect(Object.keys(step)).toEqual(expect.arrayContaining(['id', 'kind', 'state']));
        if ('rows' in step) expect(typeof step.rows).toBe('number');
      }
    }
    expect(JSON.parse(JSON.stringify(status))).toEqual(status);
    expect(await journal.status('never-ran')).toEqual({ name: 'never-ran', runs: [] });
  });
});

describe('created objects, retention and facts', () => {
  it('records created objects once per identity and forgets them', async () => {
    await journal.recordCreated('objs', { kind: 'database', server: 'source', name: 'cloudphone_user' });
    await journal.recordCreated('objs', { kind: 'database', server: 'source', name: 'cloudphone_user', detail: { adopted: true } });
    await journal.recordCreated('objs', { kind: 'role', server: 'source', name: 'svc' });
    await journal.view('objs').recordCreated({ kind: 'fence', server: 'source', name: 'core', detail: { tables: ['a', 'b'] } });
    const created = await journal.view('objs').created();
    expect(created).toHaveLength(3);
    expect(created.find((o) => o.kind === 'database')).toEqual({ kind: 'database', server: 'source', name: 'cloudphone_user', detail: { adopted: true } });
    expect(created.find((o) => o.kind === 'fence')?.detail).toEqual({ tables: ['a', 'b'] });
    await journal.forgetCreated('objs', { kind: 'role', server: 'source', name: 'svc' });
    expect((await journal.created('objs')).map((o) => o.kind).sort()).toEqual(['database', 'fence']);
    expect(await journal.created('nothing')).toEqual([]);
  });

  it('keeps retention rows: schedule, list, update, delete', async () => {
    const expires = new Date('2030-01-08T00:00:00Z');
    const r = await journal.scheduleRetention('ret', { server: 'source', database: 'core', expiresAt: expires, detail: { days: 7 } });
    expect(r).toMatchObject({ split: 'ret', database: 'core', state: 'scheduled', verified: false, detail: { days: 7 } });
    expect(r.expiresAt.toISOString()).toBe(expires.toISOString());
    const again = await journal.scheduleRetention('ret', { server: 'source', database: 'core', expiresAt: new Date('2030-02-01T00:00:00Z') });
    expect(again.id).toBe(r.id);
    expect(again.detail).toEqual({ days: 7 });
    const updated = await journal.updateRetention(r.id, { verified: true, state: 'pruned' });
    expect(updated).toMatchObject({ verified: true, state: 'pruned' });
    expect((await journal.retention('ret')).map((x) => x.id)).toEqual([r.id]);
    expect((await journal.retention()).some((x) => x.id === r.id)).toBe(true);
    expect(await journal.deleteRetention(r.id)).toBe(true);
    expect(await journal.retention('ret')).toEqual([]);
    expect(await journal.updateRetention(r.id, { verified: false })).toBeUndefined();
  });

  it('stores facts as JSON', async () => {
    expect(await journal.getFact('facts', 'missing')).toBeUndefined();
    await journal.setFact('facts', 'counts', { users: 3, list: [1, 2] });
    await journal.setFact('facts', 'flag', true);
    await journal.setFact('facts', 'counts', [1, 2, 3]);
    expect(await journal.getFact('facts', 'counts')).toEqual([1, 2, 3]);
    expect(await journal.getFact<boolean>('facts', 'flag')).toBe(true);
    await journal.deleteFact('facts', 'flag');
    expect(await journal.getFact('facts', 'flag')).toBeUndefined();
  });
});
