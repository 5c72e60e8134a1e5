import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servers, query, uniquePrefix, createDatabase } from '../harness/servers.js';
import { Pools } from '../../src/pg/pools.js';
import { createIndexes } from '../../src/steps/create-indexes.js';
import type { CreateIndexesStep } from '../../src/plan/model.js';
import type { StepContext } from '../../src/steps/handler.js';
import { runCli } from './helpers/cli.js';

const prefix = uniquePrefix();
const database = `${prefix}workers`;
let url: string;

beforeAll(async () => {
  url = await createDatabase(servers().main, database);
  await query(url, `CREATE TABLE seen (step text, workers text)`);
});

afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
});

/** A create_indexes step that records the session's max_parallel_maintenance_workers as it runs. */
function step(id: string): CreateIndexesStep {
  return {
    id,
    kind: 'create_indexes',
    description: 'records its setting',
    sql: [`INSERT INTO seen SELECT '${id}', current_setting('max_parallel_maintenance_workers')`],
    dependsOn: [],
    target: { service: 'svc', server: 'main', database },
  };
}

async function run(id: string, indexWorkers: number | undefined): Promise<string> {
  const pools = new Pools({ source: servers().main, main: servers().main }, 2);
  // The handler reads only the pools and the setting; the rest of the context is not used by it.
  const ctx = { pools, ...(indexWorkers === undefined ? {} : { indexWorkers }) } as unknown as StepContext;
  try {
    await createIndexes.run(ctx, step(id));
  } finally {
    await pools.end();
  }
  return (await query<{ workers: string }>(url, `SELECT workers FROM seen WHERE step = $1`, [id]))[0]!.workers;
}

describe('--index-workers', () => {
  it("sets max_parallel_maintenance_workers for each index step, and leaves the server's setting alone without it", async () => {
    const server = (await query<{ v: string }>(url, `SELECT current_setting('max_parallel_maintenance_workers') AS v`))[0]!.v;
    expect(await run('none', undefined)).toBe(server);
    expect(await run('zero', 0)).toBe('0');
    expect(await run('three', 3)).toBe('3');
  });

  it('refuses a value that is not a whole number from 0 to 1024 (exit 2)', async () => {
    for (const bad of ['-1', 'two', '1.5']) {
      const r = await runCli(['apply', '--index-workers', bad, '-m', 'nowhere.yaml'], {});
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`--index-workers takes a whole number from 0 to 1024, not ${bad}`);
    }
  });
});
