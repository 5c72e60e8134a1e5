/**
 * `npm run bench:plan`: how long `plan` takes on a source of 1,000 tables (10 services
 * of 100 tables, each with a foreign key to the previous table, an index, a check and a
 * comment; every tenth key crosses services). Prints the figures; asserts nothing.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbedded } from '../demo/embedded.js';
import { makePlan } from '../plan/make.js';
import { withDatabase } from '../conn/connection.js';

const TABLES = Number(process.env.BENCH_TABLES ?? 1000);
const SERVICES = 10;

async function main(): Promise<void> {
  const server = await startEmbedded();
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_core');
    await admin.end();
    const url = withDatabase(server.url, 'bench_core');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const t0 = performance.now();
    await c.query(`CREATE TYPE public.state AS ENUM ('on', 'off');
      DO $$ BEGIN
        FOR i IN 1..${TABLES} LOOP
          EXECUTE format('CREATE TABLE public.s%s_t%s (id bigserial PRIMARY KEY, parent bigint %s, name text NOT NULL DEFAULT %L,
            state public.state, created timestamptz DEFAULT now(), CHECK (length(name) < 100))',
            (i - 1) / ${TABLES / SERVICES}, i,
            CASE WHEN i > 1 THEN format('REFERENCES public.s%s_t%s (id)', (i - 2) / ${TABLES / SERVICES}, i - 1) ELSE '' END, 'n' || i);
          EXECUTE format('CREATE INDEX ON public.s%s_t%s (name)', (i - 1) / ${TABLES / SERVICES}, i);
          EXECUTE format('COMMENT ON TABLE public.s%s_t%s IS %L', (i - 1) / ${TABLES / SERVICES}, i, 'table ' || i);
        END LOOP;
      END $$`);
    await c.end();
    const setupMs = performance.now() - t0;
    const dir = await mkdtemp(join(tmpdir(), 'cps-bench-plan-'));
    const services = Array.from({ length: SERVICES }, (_, s) => `  svc${s}:\n    database: bench_svc${s}\n    tables: ["s${s}_t*"]\n`).join('');
    const manifest = join(dir, 'split.yaml');
    await writeFile(manifest, `version: 1\nname: bench\nsource:\n  url: \${BENCH_URL}\nservices:\n${services}`);
    const env = { ...process.env, BENCH_URL: url };
    const runs: number[] = [];
    let steps = 0;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      const { plan } = await makePlan({ manifestFile: manifest, env });
      runs.push(performance.now() - s);
      steps = plan.steps.length;
    }
    const best = Math.min(...runs);
    console.log(`source: ${TABLES} tables in ${SERVICES} services (created in ${(setupMs / 1000).toFixed(1)} s)`);
    console.log(`plan (introspect + resolve + build), 3 runs: ${runs.map((r) => `${(r / 1000).toFixed(2)} s`).join(', ')}`);
    console.log(`best: ${(best / 1000).toFixed(2)} s for ${steps} steps; goal < 3 s: ${best < 3000 ? 'met' : 'NOT met'} (ratio to goal ${(best / 3000).toFixed(2)})`);
  } finally {
    await server.stop();
  }
}

await main();
