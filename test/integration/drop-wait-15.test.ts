import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../src/pg/cluster.js';
import { watchedDrop } from '../../src/pg/drop-wait.js';
import { query } from '../harness/servers.js';
import { quietClient } from './helpers/quiet-client.js';

/**
 * Before PostgreSQL 18 a session still authenticating is not in pg_stat_activity, yet it
 * holds every DROP DATABASE of its server (the drop waits on a signal barrier it does not
 * absorb). The notice of a waiting drop says so from its wait event and the absence of any
 * blocker. On a PostgreSQL 15 cluster of its own, asking for passwords like a real server.
 */

const PG15_BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';
let cluster: LocalCluster | undefined;
let url: string;

beforeAll(async () => {
  if (!existsSync(join(PG15_BIN, 'pg_ctl'))) throw new Error(`PostgreSQL 15 server binaries not found in ${PG15_BIN}: install postgresql-15 or set PG15_BIN`);
  cluster = await startLocalCluster({ binDir: PG15_BIN });
  await query(cluster.url, `ALTER ROLE postgres PASSWORD 'pw15'`);
  writeFileSync(join(cluster.dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 password\n');
  await query(cluster.url, `SELECT pg_reload_conf()`);
  url = cluster.url.replace('postgres@', 'postgres:pw15@');
  await sleep(300);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a DROP DATABASE held by a session still authenticating, on PostgreSQL 15', () => {
  it('is described from its wait event: nothing blocks it, a session authenticating (not listed before 18) likely does', async () => {
    await query(url, `CREATE DATABASE held_drop`);
    const quiet = await quietClient(url);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const lines: string[] = [];
    const openMonitor = async (): Promise<pg.Client> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    };
    const drop = watchedDrop(admin, `DROP DATABASE held_drop WITH (FORCE)`, 'held_drop', (l) => lines.push(l), openMonitor, { firstMs: 300, everyMs: 500 });
    try {
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => /authenticating/.test(l))) {
        if (Date.now() > deadline) throw new Error(`no word about the held drop: ${JSON.stringify(lines)}`);
        await sleep(100);
      }
      const said = lines.find((l) => /authenticating/.test(l))!;
      expect(said).toMatch(/^DROP DATABASE held_drop has waited \d+ s \(wait event IPC\/ProcSignalBarrier\); nothing blocks it/);
      expect(said).toContain('PostgreSQL before 18 does not list in pg_stat_activity');
      expect(said).toContain('authentication_timeout (1min)');
    } finally {
      quiet.destroy();
    }
    await drop;
    await admin.end();
    expect(await query(url, `SELECT 1 FROM pg_database WHERE datname = 'held_drop'`)).toEqual([]);
  });
});
