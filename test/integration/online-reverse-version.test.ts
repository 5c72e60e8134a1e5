import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { startMatrixServer, type MatrixServer } from './helpers/pg-matrix.js';

/**
 * Reverse replication publishes from the new databases with column lists where they hold
 * denormalized columns the source lacks, which needs PostgreSQL 15 or later there. With
 * PostgreSQL 14 (the version matrix's npm alias) on that side, the split is refused
 * with the reason: at plan time when the plan knows the server's version (the service
 * stays on the source's server), at apply's preflight otherwise, before anything is made.
 */

let pg14: MatrixServer;
const fixtures: SplitFixture[] = [];

beforeAll(async () => {
  pg14 = await startMatrixServer(14);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await pg14?.cluster.stop();
});

async function online(opts: { source?: string; targets?: string }): Promise<SplitFixture> {
  const fx = await splitFixture({ scale: 0.1, ...opts, edit: (doc) => void (doc.mode = 'online') });
  fixtures.push(fx);
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  return fx;
}

/** Several splits, servers and CLI runs per test: more than the default timeout on a loaded machine (no bound on speed is asserted). */
const SLOW = 300_000;

describe('reverse replication needs PostgreSQL 15+ where denormalized columns are published back', () => {
  it('plan refuses (exit 1) a service with denormalized columns on a PostgreSQL 14 source server, naming the tables and what to do', async () => {
    const fx = await online({ source: pg14.url });
    const r = await fx.cli('plan', '-o', fx.planFile);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/device-service: reverse replication after cutover needs PostgreSQL 15 or later on the server of \S+cloudphone_device \(the source's, 14\.\d+\): public\.devices hold denormalized columns/);
    expect(text).toMatch(/billing-service: reverse replication after cutover needs PostgreSQL 15 or later[^\n]*public\.orders/);
    // Services without denormalized columns publish every column: no column list, no refusal.
    expect(text).not.toMatch(/user-service: reverse replication/);
  }, SLOW);

  it("apply's preflight refuses a PostgreSQL 14 target server before creating anything", async () => {
    const fx = await online({ targets: pg14.url });
    const planned = await fx.cli('plan', '-o', fx.planFile);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const r = await fx.cli('apply', fx.planFile, '--yes');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/server target: reverse replication of \S+cloudphone_device \(server target, PostgreSQL 14\) needs PostgreSQL 15 or later there: public\.devices hold denormalized columns/);
    expect(await query(pg14.url, `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${fx.prefix}%`])).toEqual([]);
  }, SLOW);
});
