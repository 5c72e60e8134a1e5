import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { query } from '../../harness/servers.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { PAUSE_LOCK_SPACE, TEST_PAUSE_ENV, type PauseMoment } from '../../../src/engine/test-pause.js';
import { splitFixture, type SplitFixture } from './split-fixture.js';
import { applyAndKill, type KillOutcome, type SplitWatch } from './crash.js';
import { runSpawned } from './cli.js';
import { splitSignature } from './catalog-signature.js';
import { expectSameData } from './assert-split.js';

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
  return {
    signature: await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix),
    files: await treeFiles(fx),
    source: await sourceSide(fx),
  };
}

/** A fresh split of `template` with its plan, and its control database created (the watch connects to it). */
export async function newSplit(template: string, fixtures: SplitFixture[], env: Record<string, string> = {}): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({ template, withConfig: true });
  fixtures.push(fx);
  Object.assign(fx.env, env);
  const plan = await fx.plan();
  await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
  return { fx, plan };
}

/** Runs an uninterrupted apply of a fresh split and returns what it left (the reference of every case). */
export async function referenceRun(template: string, fixtures: SplitFixture[], env: Record<string, string> = {}): Promise<Reference> {
  const { fx, plan } = await newSplit(template, fixtures, env);
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  await expectSameData(fx, plan);
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const ref = await takeReference(fx);
  // The reference is a real split: config repointed, the source fenced and marked for retention.
  expect(Object.values(ref.files).join('\n')).toContain('<p>cloudphone_billing');
  expect(JSON.stringify(ref.source)).toContain('cloudphone_split_fence');
  expect(JSON.stringify(ref.source)).toContain('default_transaction_read_only=on');
  expect(JSON.stringify(ref.source)).toContain('"state":"scheduled"');
  return ref;
}

/** Runs apply again to its end: it must resume (something was already done) and succeed. */
export async function resumeToEnd(fx: SplitFixture): Promise<void> {
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  expect(r.stdout).toMatch(/already done/);
}

/** The split after the resumed run equals the reference everywhere, and `verify --checksums` passes. */
export async function expectLikeUninterrupted(fx: SplitFixture, plan: Plan, reference: Reference): Promise<void> {
  await expectSameData(fx, plan);
  // Verified first, as the reference was: a passing --checksums run is what marks the backup verified.
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  expect(await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix)).toEqual(reference.signature);
  expect(await treeFiles(fx)).toEqual(reference.files);
  expect(await sourceSide(fx)).toEqual(reference.source);
  const states = await query<{ state: string; n: number }>(
    fx.controlUrl,
    `SELECT s.state, count(*)::int AS n FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = $1 AND r.state = 'succeeded' GROUP BY 1 ORDER BY 1`,
    [fx.name],
  );
  expect(states.filter((s) => s.state !== 'done' && s.state !== 'skipped')).toEqual([]);
  expect(states.reduce((a, s) => a + s.n, 0)).toBe(plan.steps.length);
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
 * Spawns apply told to pause `moment` (before its handler, or after it and before the
 * journal records it done) at the first of `stepIds` it reaches, waits until the tool
 * waits there (pg_locks: its session waits for that pause lock) and the journal shows the
 * step running, then kills it with SIGKILL. Returns the step it died in.
 */
export async function killAtPause(
  fx: SplitFixture,
  watch: SplitWatch,
  moment: PauseMoment,
  stepIds: string[],
  opts: { args?: string[] } = {},
): Promise<{ stepId: string; outcome: KillOutcome }> {
  expect(stepIds.length, 'steps to pause at').toBeGreaterThan(0);
  const locks = await holdPauseLocks(fx, stepIds);
  let paused: string | undefined;
  const env = { ...fx.env, [TEST_PAUSE_ENV]: stepIds.map((id) => `${moment}:${id}`).join(',') };
  const outcome = await applyAndKill(
    fx,
    watch,
    async (since) => {
      const [id] = await pausedSteps(fx, stepIds);
      if (id === undefined || (await watch.running(id, since)) === undefined) return false;
      paused = id;
      return true;
    },
    { env, afterKill: () => locks.release(), ...(opts.args ? { args: opts.args } : {}) },
  );
  expect(paused, 'the run paused at one of the steps').toBeDefined();
  expectKilledIn(outcome, paused!);
  return { stepId: paused!, outcome };
}
