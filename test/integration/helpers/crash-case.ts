import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { query } from '../../harness/servers.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { PAUSE_LOCK_SPACE, TEST_PAUSE_ENV, type PauseMoment } from '../../../src/engine/test-pause.js';
import { splitFixture, type SplitFixture } from './split-fixture.js';
import { applyAndKill, SplitWatch, type KillOutcome } from './crash.js';
import { runSpawned } from './cli.js';
import { splitSignature } from './catalog-signature.js';
import { expectSameData } from './assert-split.js';
import { sharedValue } from './shared-sample.js';

/**
 * One kill per case (SPEC §3: "a run killed at any instant and started again ends in the
 * same verified state as a run that was never interrupted"): each case starts a fresh
 * split, kills apply with SIGKILL at a moment the test proves it reached, resumes, and
 * compares everything with a reference run that was never interrupted: the targets (rows,
 * checksums, schema, sequences), the services' config files, the journal, the source side
 * (fence triggers, read-only setting, retention comment, ACL, the journal's retention
 * record), and `verify --checksums` must pass.
 */

/** What an uninterrupted split leaves behind, with the split's own names, OIDs and clock normalised. */
export interface Reference {
  signature: Record<string, string[]>;
  files: Record<string, string>;
  source: unknown;
}

/**
 * How many cases of one crash file run at once. Each case works on its own split (its own
 * databases, roles, control database and advisory lock), so they only share the servers;
 * much of a case is replication waits and the tool's own waits, which one case at a time
 * leaves idle (measured: crash-cutover one at a time took half again the CPU of three at
 * once, and its queue outlasted CASE_TIMEOUT_MS under load).
 */
export const CASES_AT_ONCE = 3;

/**
 * How often a kill condition that waits for a pause (or a lock the test holds) is checked:
 * the tool waits there until it is killed, so a calm pace cannot miss the moment.
 */
export const PAUSE_POLL_MS = 150;

/** Time a case may take when it waits for a free slot among CASES_AT_ONCE (no speed is asserted). */
export const CASE_TIMEOUT_MS = 900_000;

/** The kill condition of a case may wait this long for the tool to reach its moment under CASES_AT_ONCE. */
export const KILL_WAIT_MS = 300_000;

/** Runs the functions given to it, at most `n` at once, in the order they came. */
export function limit(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * The CLI run in this process (`fx.plan()`, `fx.cli(...)`) keeps its current output in a
 * module: concurrent cases run it one at a time.
 */
export const inProcess = limit(1);

/**
 * A value computed once, started now and awaited by every case that needs it (the
 * reference run of a file, beside the first cases). A failure is reported by each case.
 */
export function started<T>(fn: () => Promise<T>): Promise<T> {
  const p = fn();
  p.catch(() => undefined);
  return p;
}

/** Every file of the services tree (not the manifest or plans), with the split's prefix normalised. */
export async function treeFiles(fx: SplitFixture): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const file = join(dir, e.name);
      const rel = relative(fx.dir, file);
      if (rel === 'split.yaml' || rel === 'plans') continue;
      if (e.isDirectory()) await walk(file);
      else out[rel] = (await readFile(file, 'utf8')).replaceAll(fx.prefix, '<p>');
    }
  };
  await walk(fx.dir);
  return out;
}

/** The split's names, instants and OIDs replaced by placeholders: what two runs of one split share. */
function normalise(fx: SplitFixture, value: unknown): unknown {
  const text = JSON.stringify(value)
    .replaceAll(fx.prefix, '<p>')
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?/g, '<time>')
    .replace(/"(oid|datid|relid)":"?\d+"?/g, '"$1":"<oid>"');
  // Maps keyed by table OID (the backup's write counters per table): two databases give their tables other OIDs.
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    return keys.length > 0 && keys.every((k) => /^\d+$/.test(k)) ? Object.values(v).map(String).sort() : v;
  });
}

/**
 * The source side of a split: the fence (triggers and the tool's schema), the old
 * database's own settings, comment and ACL, and the journal's retention record.
 */
export async function sourceSide(fx: SplitFixture): Promise<unknown> {
  const triggers = await query(fx.sourceUrl, `SELECT tgrelid::regclass::text AS "table", tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`);
  const fenceSchema = await query(
    fx.sourceUrl,
    `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'cloudphone_split' ORDER BY 1`,
  );
  const database = await query(
    fx.sourceServer,
    `SELECT s.setconfig, shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl, d.datallowconn
       FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0 WHERE d.datname = $1`,
    [fx.sourceDb],
  );
  const retention = await query(
    fx.controlUrl,
    `SELECT server, database, state, verified, detail FROM cloudphone_split.retention WHERE split = $1 ORDER BY server, database`,
    [fx.name],
  );
  return normalise(fx, { triggers, fenceSchema, database, retention });
}

export async function takeReference(fx: SplitFixture): Promise<Reference> {
  const [signature, files, source] = await Promise.all([
    splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix),
    treeFiles(fx),
    sourceSide(fx),
  ]);
  return { signature, files, source };
}

/** A fresh split of `template` with its plan, and its control database created (the watch connects to it). */
export async function newSplit(template: string, fixtures: SplitFixture[], env: Record<string, string> = {}): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({ template, withConfig: true });
  fixtures.push(fx);
  Object.assign(fx.env, env);
  const plan = await inProcess(() => fx.plan());
  await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
  return { fx, plan };
}

/** Runs an uninterrupted apply of a fresh split and returns what it left (the reference of every case). */
export async function referenceRun(template: string, fixtures: SplitFixture[], env: Record<string, string> = {}): Promise<Reference> {
  const { fx, plan } = await newSplit(template, fixtures, env);
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  await expectSameData(fx, plan);
  const verified = await inProcess(() => fx.cli('verify', '--checksums'));
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const ref = await takeReference(fx);
  // The reference is a real split: config repointed, the source fenced and marked for retention.
  expect(Object.values(ref.files).join('\n')).toContain('<p>cloudphone_billing');
  expect(JSON.stringify(ref.source)).toContain('cloudphone_split_fence');
  expect(JSON.stringify(ref.source)).toContain('default_transaction_read_only=on');
  expect(JSON.stringify(ref.source)).toContain('"state":"scheduled"');
  await fx.cleanup();
  return ref;
}

/**
 * The reference run of `template` (a sharedSampleTemplate of `server`) with `env`, made
 * once for every crash file that asks for the same one (helpers/shared-sample.ts), in the
 * first slot of each file. The run and its comparison are the same whichever
 * file makes it: a split of the same sample with the same manifest and settings.
 */
export function sharedReferenceRun(
  server: string,
  template: string,
  fixtures: SplitFixture[],
  slot: <T>(fn: () => Promise<T>) => Promise<T>,
  env: Record<string, string> = {},
): Promise<Reference> {
  // The slot is asked for now, before any case of the file: a case waits in its slot for the reference.
  return started(() => slot(() => sharedValue(server, `uninterrupted apply of ${template} with ${JSON.stringify(env)}`, () => referenceRun(template, fixtures, env))));
}

/** Runs apply again to its end: it must resume (something was already done) and succeed. */
export async function resumeToEnd(fx: SplitFixture): Promise<void> {
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  expect(r.stdout).toMatch(/already done/);
}

/** The split after the resumed run equals the reference everywhere, and `verify --checksums` passes. */
export async function expectLikeUninterrupted(fx: SplitFixture, plan: Plan, reference: Reference | Promise<Reference>): Promise<void> {
  // Verified first, as the reference was: a passing --checksums run is what marks the backup verified.
  const [, verified] = await Promise.all([expectSameData(fx, plan), inProcess(() => fx.cli('verify', '--checksums'))]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const [signature, files, source, states] = await Promise.all([
    splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix),
    treeFiles(fx),
    sourceSide(fx),
    query<{ state: string; n: number }>(
      fx.controlUrl,
      `SELECT s.state, count(*)::int AS n FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
        WHERE r.split = $1 AND r.state = 'succeeded' GROUP BY 1 ORDER BY 1`,
      [fx.name],
    ),
  ]);
  const ref = await reference;
  expect(signature).toEqual(ref.signature);
  expect(files).toEqual(ref.files);
  expect(source).toEqual(ref.source);
  expect(states.filter((s) => s.state !== 'done' && s.state !== 'skipped')).toEqual([]);
  expect(states.reduce((a, s) => a + s.n, 0)).toBe(plan.steps.length);
}

/**
 * One case of an apply crash file: a fresh split of `template`, `kill` on it (with a watch
 * on its journal), apply again to its end, the comparison with `reference`, then `after`
 * (checks of the resumed run). The split is dropped once the case passed; afterAll drops
 * the ones of failed cases.
 */
export async function crashCase(
  template: string,
  fixtures: SplitFixture[],
  reference: Promise<Reference>,
  kill: (fx: SplitFixture, plan: Plan, watch: SplitWatch) => Promise<void>,
  opts: { env?: Record<string, string>; after?: (fx: SplitFixture) => Promise<void> } = {},
): Promise<void> {
  const { fx, plan } = await newSplit(template, fixtures, opts.env);
  const watch = await SplitWatch.open(fx);
  try {
    await kill(fx, plan, watch);
  } finally {
    await watch.close();
  }
  await resumeToEnd(fx);
  await expectLikeUninterrupted(fx, plan, reference);
  await opts.after?.(fx);
  await fx.cleanup();
}

/** Drops the splits of a file (those of passed cases are gone already: dropping is idempotent). */
export async function dropAll(fixtures: SplitFixture[]): Promise<void> {
  await Promise.all(fixtures.map((fx) => fx.cleanup()));
}

export function stepsOf<K extends Step['kind']>(plan: Plan, kind: K): Array<Extract<Step, { kind: K }>> {
  return plan.steps.filter((s): s is Extract<Step, { kind: K }> => s.kind === kind);
}

export function expectKilledIn(k: KillOutcome, stepId: string | RegExp): void {
  expect(k.killed, `apply was killed; it ended on its own instead: ${JSON.stringify(k.result)}`).toBe(true);
  if (typeof stepId === 'string') expect(k.runningAtKill).toContain(stepId);
  else expect(k.runningAtKill.some((id) => stepId.test(id)), `running at the kill: ${k.runningAtKill.join(', ')}`).toBe(true);
}

/**
 * Holds the pause locks (src/engine/test-pause.ts) of every step in `stepIds` in the
 * source database: a run told to pause at those steps waits there until released.
 */
export async function holdPauseLocks(fx: SplitFixture, stepIds: string[]): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: fx.sourceUrl });
  c.on('error', () => undefined);
  await c.connect();
  for (const id of stepIds) await c.query('SELECT pg_advisory_lock($1, hashtext($2))', [PAUSE_LOCK_SPACE, id]);
  return {
    async release() {
      await c.end().catch(() => undefined);
    },
  };
}

/** The ids of the steps whose pause lock a session of the tool waits for in the source database now. */
export async function pausedSteps(fx: SplitFixture, candidates: string[]): Promise<string[]> {
  const r = await query<{ objid: string }>(
    fx.sourceServer,
    `SELECT l.objid::text AS objid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::int::oid
        AND a.datname = $2 AND a.application_name LIKE 'cloudphone-split%'`,
    [PAUSE_LOCK_SPACE, fx.sourceDb],
  );
  if (r.length === 0) return [];
  const hashes = await query<{ id: string; h: string }>(fx.sourceServer, `SELECT id, (hashtext(id)::bigint & 4294967295)::text AS h FROM unnest($1::text[]) AS id`, [candidates]);
  const waiting = new Set(r.map((x) => x.objid));
  return hashes.filter((x) => waiting.has(x.h)).map((x) => x.id);
}

/**
 * Which of some steps a session of the tool waits at, by their pause locks (see
 * pausedSteps), asked on one connection to the source's server kept for the whole run:
 * a kill condition polls it every few milliseconds.
 */
class PauseWaits {
  private constructor(
    private readonly fx: SplitFixture,
    private readonly client: pg.Client,
    private readonly byHash: Map<string, string>,
  ) {}

  static async open(fx: SplitFixture, stepIds: string[]): Promise<PauseWaits> {
    const c = new pg.Client({ connectionString: fx.sourceServer });
    c.on('error', () => undefined);
    await c.connect();
    const r = await c.query<{ id: string; h: string }>(`SELECT id, (hashtext(id)::bigint & 4294967295)::text AS h FROM unnest($1::text[]) AS id`, [stepIds]);
    return new PauseWaits(fx, c, new Map(r.rows.map((x) => [x.h, x.id])));
  }

  /** The steps whose pause lock a session of the tool waits for now. */
  async paused(): Promise<string[]> {
    const r = await this.client.query<{ objid: string }>(
      `SELECT l.objid::text AS objid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::int::oid
          AND a.datname = $2 AND a.application_name LIKE 'cloudphone-split%'`,
      [PAUSE_LOCK_SPACE, this.fx.sourceDb],
    );
    return r.rows.map((x) => this.byHash.get(x.objid)).filter((id): id is string => id !== undefined);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/**
 * Spawns apply told to pause `moment` (before its handler, or after it and before the
 * journal records it done) at the first of `stepIds` it reaches, waits until the tool
 * waits there (pg_locks: its session waits for that pause lock) and the journal shows the
 * step running, then kills it with SIGKILL. Returns the step it died in. The tool waits
 * at the pause until killed, so the condition is polled at a calm pace (`timeoutMs`: how
 * long the run may take to get there).
 */
export async function killAtPause(
  fx: SplitFixture,
  watch: SplitWatch,
  moment: PauseMoment,
  stepIds: string[],
  opts: { args?: string[]; timeoutMs?: number } = {},
): Promise<{ stepId: string; outcome: KillOutcome }> {
  expect(stepIds.length, 'steps to pause at').toBeGreaterThan(0);
  const locks = await holdPauseLocks(fx, stepIds);
  const waits = await PauseWaits.open(fx, stepIds);
  let paused: string | undefined;
  const env = { ...fx.env, [TEST_PAUSE_ENV]: stepIds.map((id) => `${moment}:${id}`).join(',') };
  try {
    const outcome = await applyAndKill(
      fx,
      watch,
      async (since) => {
        const running = new Set(await watch.runningAmong(stepIds, since));
        if (running.size === 0) return false;
        paused = (await waits.paused()).find((id) => running.has(id));
        return paused !== undefined;
      },
      { env, afterKill: () => locks.release(), pollMs: PAUSE_POLL_MS, timeoutMs: opts.timeoutMs ?? KILL_WAIT_MS, ...(opts.args ? { args: opts.args } : {}) },
    );
    expect(paused, 'the run paused at one of the steps').toBeDefined();
    expectKilledIn(outcome, paused!);
    return { stepId: paused!, outcome };
  } finally {
    await waits.close();
  }
}
