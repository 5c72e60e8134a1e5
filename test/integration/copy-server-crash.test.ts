import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { query, second, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { applyAndKill, SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { expectSameData } from './helpers/assert-split.js';
import { expectLikeUninterrupted, killAtPause, resumeToEnd, stepsOf, takeReference, type Reference } from './helpers/crash-case.js';
import { replicationPrefix } from '../../src/online/replication-sql.js';
import type { Plan } from '../../src/plan/model.js';

/**
 * `copy: server` killed with SIGKILL while the target servers copy, then run again:
 * the result equals an uninterrupted `copy: server` run everywhere (rows, checksums,
 * schema, config files, source side, journal), and rollback after such a kill removes
 * every publication, slot, subscription and replication role. The sample at scale 5
 * makes the synchronisation of the largest tables last long enough to be caught.
 */

const SCALE = 5;
let template: string;
const fixtures: SplitFixture[] = [];
let reference: Reference;

async function newServerSplit(): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({
    template,
    withConfig: true,
    targets: second(),
    edit: (doc) => {
      doc.copy = 'server';
    },
  });
  fixtures.push(fx);
  const plan = await fx.plan();
  await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
  return { fx, plan };
}

/** What the split's replication left: the source's publications and slots, the targets' subscriptions, replication roles. */
async function leftovers(fx: SplitFixture): Promise<string[]> {
  const prefix = replicationPrefix(fx.name);
  const out: string[] = [];
  for (const r of await query<{ n: string }>(fx.sourceUrl, `SELECT pubname::text AS n FROM pg_publication WHERE pubname LIKE $1 || '%'`, [prefix])) out.push(`publication ${r.n}`);
  for (const url of new Set([fx.sourceServer, ...fx.services.map((s) => s.serverUrl)])) {
    for (const r of await query<{ n: string }>(url, `SELECT slot_name::text AS n FROM pg_replication_slots WHERE slot_name LIKE $1 || '%' OR database = $2`, [prefix, fx.sourceDb])) out.push(`slot ${r.n}`);
    for (const r of await query<{ n: string }>(url, `SELECT subname::text AS n FROM pg_subscription WHERE subname LIKE $1 || '%'`, [prefix])) out.push(`subscription ${r.n}`);
    for (const r of await query<{ n: string }>(url, `SELECT rolname::text AS n FROM pg_roles WHERE rolname LIKE $1 || '%'`, [prefix])) out.push(`role ${r.n}`);
  }
  return out.sort();
}

/**
 * Kills apply while a table synchronisation worker of a target server is in the middle
 * of its COPY (rows already stored, not committed): the target server works by itself,
 * so whichever step of the tool runs then, the kill lands mid-sync. Returns the tables
 * being copied at that moment.
 */
async function killMidSync(fx: SplitFixture): Promise<string[]> {
  const watch = await SplitWatch.open(fx);
  const target = new pg.Client({ connectionString: fx.service('device').serverUrl });
  await target.connect();
  let caught: string[] = [];
  let syncing = false;
  try {
    const k = await applyAndKill(
      fx,
      watch,
      async () => {
        const r = await target.query<{ t: string; n: string }>(
          `SELECT p.datname || '/' || p.relid::text AS t, p.tuples_processed::text AS n FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
            WHERE a.backend_type LIKE 'logical replication%' AND p.datname LIKE $1 || '%'`,
          [fx.prefix],
        );
        syncing ||= r.rows.length > 0;
        caught = r.rows.filter((x) => Number(x.n) > 100).map((x) => x.t);
        return caught.length > 0;
      },
      // Calm until a synchronisation worker copies (the subscriptions exist); then as often as the kept connection answers.
      { pollMs: () => (syncing ? 1 : 20), timeoutMs: 120_000 },
    );
    expect(k.killed, `apply was killed mid-sync; it ended on its own instead: ${JSON.stringify(k.result?.stderr)}`).toBe(true);
  } finally {
    await target.end();
    await watch.close();
  }
  expect(caught.length).toBeGreaterThan(0);
  return caught;
}

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, SCALE);
  const { fx, plan } = await newServerSplit();
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  await expectSameData(fx, plan);
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  reference = await takeReference(fx);
  expect(await leftovers(fx)).toEqual([]);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('copy: server killed with SIGKILL, then run again, ends as an uninterrupted run', () => {
  it('in the middle of a table synchronisation: the rerun waits for the target servers and ends with exactly the source\'s rows', async () => {
    const { fx, plan } = await newServerSplit();
    await killMidSync(fx);
    await resumeToEnd(fx);
    await expectLikeUninterrupted(fx, plan, reference);
    expect(await leftovers(fx)).toEqual([]);
  });

  it('after the subscriptions were made, before the journal recorded it: the rerun keeps them and copies nothing twice', async () => {
    const { fx, plan } = await newServerSplit();
    const watch = await SplitWatch.open(fx);
    try {
      await killAtPause(fx, watch, 'after', stepsOf(plan, 'start_server_copy').map((s) => s.id));
    } finally {
      await watch.close();
    }
    expect((await leftovers(fx)).some((o) => o.startsWith('subscription '))).toBe(true);
    await resumeToEnd(fx);
    await expectLikeUninterrupted(fx, plan, reference);
    expect(await leftovers(fx)).toEqual([]);
  });

  it('rollback after a kill mid-sync drops the publications, slots, subscriptions and replication roles, then the databases', async () => {
    const { fx, plan } = await newServerSplit();
    await killMidSync(fx);
    const left = await leftovers(fx);
    for (const kind of ['publication', 'slot', 'subscription', 'role']) expect(left.some((o) => o.startsWith(`${kind} `)), `${kind} before rollback: ${left.join(', ')}`).toBe(true);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await leftovers(fx)).toEqual([]);
    for (const s of fx.services) {
      const [row] = await query<{ n: number }>(s.serverUrl, `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [s.database]);
      expect(row!.n, `${s.database} after rollback`).toBe(0);
    }
    // The source takes writes again.
    await query(fx.sourceUrl, `UPDATE public.nodes SET id = id WHERE false`);
  });
});
