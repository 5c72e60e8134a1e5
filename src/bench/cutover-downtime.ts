/**
 * `npm run bench:cutover [-- --scale N]`: the write downtime of an online cutover of the
 * sample database at N and at 10×N (the denormalized tables, devices and orders, ten
 * times larger), with a client writing until the fence (new devices, renamed users).
 * Starts its own PostgreSQL 15 cluster (wal_level = logical), runs the built CLI
 * (`apply`, then `cutover --json`) and prints, for each size, the rows of the
 * denormalized tables, cutover's figures (write downtime, the longest client-visible
 * downtime, catch_up and its refill) and the rows the refill touched; then each
 * service's client-visible downtime at both sizes and their ratio, and, from the
 * journal, every cutover step's start and end in milliseconds from the fence (where
 * the window goes). Asserts nothing.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { startLocalCluster, type LocalCluster } from '../pg/cluster.js';
import { withDatabase } from '../conn/connection.js';
import { loadSample } from '../demo/sample-database.js';
import { sampleManifest, SAMPLE_ENV_VARS } from '../demo/sample-manifest.js';
import { writeServicesTree } from '../demo/sample-services.js';
import { PG15_BIN } from './shell.js';
import { repoRoot } from './run-bench.js';
import { sql } from './bench-clusters.js';

const SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '32',
  max_wal_senders: '32',
  max_logical_replication_workers: '24',
  max_worker_processes: '40',
  max_sync_workers_per_subscription: '2',
  max_connections: '200',
  shared_buffers: '256MB',
};

interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliOutcome> {
  const bin = join(repoRoot(), 'bin', 'cloudphone-split.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A client of the source: a new device or a renamed user every 50 ms, until the fence refuses it. */
async function writer(url: string, stop: { fenced: boolean }): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  let n = 0;
  try {
    const users = (await c.query<{ id: string }>(`SELECT id::text FROM users ORDER BY id LIMIT 50`)).rows.map((r) => r.id);
    for (let i = 0; ; i++) {
      const user = users[i % users.length]!;
      try {
        if (i % 2 === 0) await c.query(`INSERT INTO devices (user_id, name, model, android_version) VALUES ($1, 'bench-' || $2::text, 'Pixel', '14')`, [user, i]);
        else await c.query(`UPDATE users SET username = 'bench_' || $2::text WHERE id = $1`, [user, i]);
        n++;
      } catch (err) {
        if ((err as Error).message.includes('has moved to database')) return n;
        throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
      if (stop.fenced) return n;
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

interface Row {
  factor: number;
  devices: number;
  orders: number;
  writes: number;
  writeDowntimeMs: number | null;
  clientDowntimeMs: number | null;
  catchUpMs: number | null;
  fillMs: number | null;
  refilled: number | null;
  /** Milliseconds spent per step kind in the cutover (steps of one kind run partly in parallel). */
  byKind: Record<string, number>;
  /** Per service: from the fence to the first write its new database accepted. */
  perService: Array<{ service: string; ms: number | null }>;
  /** Each cutover step's start and end, in ms from the fence's start (from the journal). */
  timeline: Array<{ step: string; from: number; to: number; phases: string | null }>;
}

/** The cutover run's steps from the journal, as offsets from the start of fence_source. */
async function timeline(control: string): Promise<Row['timeline']> {
  const rows = await sql<{ step: string; from: number; to: number; phases: string | null }>(
    control,
    `WITH r AS (SELECT run_id, started_at AS t0 FROM cloudphone_split.steps WHERE kind = 'fence_source' AND state = 'done' ORDER BY finished_at DESC LIMIT 1)
     SELECT s.step_id AS step,
            round(extract(epoch FROM s.started_at - r.t0) * 1000)::int AS "from",
            round(extract(epoch FROM s.finished_at - r.t0) * 1000)::int AS "to",
            (SELECT string_agg(k || ' ' || v, ', ' ORDER BY k) FROM jsonb_each_text(coalesce(s.detail, '{}'::jsonb)) AS d(k, v) WHERE k LIKE '%Ms') AS phases
       FROM cloudphone_split.steps s JOIN r USING (run_id)
      WHERE s.state = 'done' AND s.started_at >= r.t0
      ORDER BY s.started_at, s.step_id`,
  );
  return rows;
}

async function one(cluster: LocalCluster, scale: number, factor: number): Promise<Row> {
  const db = `bench_core_${factor}x`;
  const dir = await mkdtemp(join(tmpdir(), `cps-bench-cutover-${factor}x-`));
  try {
    await sql(cluster.url, `CREATE DATABASE ${db}`);
    const sourceUrl = withDatabase(cluster.url, db);
    await loadSample(sourceUrl, { scale: scale * factor });
    // Replicated rather than copied inside the window: only the denormalized columns' share is measured here.
    await sql(sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    await writeServicesTree(dir, { sourceUrl });
    await mkdir(join(dir, 'plans'), { recursive: true });
    const doc = parse(sampleManifest({ withConfig: true, prefix: `b${factor}x_` })) as Record<string, unknown>;
    doc.mode = 'online';
    const manifest = join(dir, 'split.yaml');
    await writeFile(manifest, stringify(doc));
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CLOUDPHONE_CORE_URL: sourceUrl, SPLIT_CONTROL_URL: withDatabase(cluster.url, `bench_control_${factor}x`) };
    for (const v of SAMPLE_ENV_VARS) if (v.endsWith('_PASSWORD')) env[v] = `bench-${v.toLowerCase()}`;
    const plan = join(dir, 'plans', 'split.plan.json');
    const planned = await cli(['plan', '-m', manifest, '-o', plan], env);
    if (planned.code !== 0) throw new Error(`plan failed: ${planned.stderr}`);
    const applied = await cli(['apply', plan, '-m', manifest, '--yes', '--jobs', '2'], env);
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
    const [counts] = await sql<{ devices: number; orders: number }>(sourceUrl, `SELECT (SELECT count(*) FROM devices)::int AS devices, (SELECT count(*) FROM orders)::int AS orders`);
    const stop = { fenced: false };
    const writing = writer(sourceUrl, stop);
    await new Promise((r) => setTimeout(r, 1000));
    const cut = await cli(['cutover', '-m', manifest, '--yes', '--json'], env);
    stop.fenced = true;
    const writes = await writing;
    if (cut.code !== 0) throw new Error(`cutover failed: ${cut.stderr}`);
    const r = JSON.parse(cut.stdout) as {
      writeDowntimeMs: number | null;
      clientDowntimeMs?: number | null;
      clientDowntime?: Array<{ service: string; ms: number | null }>;
      steps: Array<{ kind: string; ms: number; rows?: number }>;
    };
    const catchUp = r.steps.find((s) => s.kind === 'catch_up');
    const control = withDatabase(cluster.url, `bench_control_${factor}x`);
    const [detail] = await sql<{ fill: number | null }>(
      control,
      `SELECT (s.detail->>'fillMs')::int AS fill FROM cloudphone_split.steps s WHERE s.step_id LIKE 'catch_up%' AND s.state = 'done' ORDER BY s.finished_at DESC LIMIT 1`,
    ).catch(() => [{ fill: null }]);
    return {
      factor,
      devices: counts!.devices,
      orders: counts!.orders,
      writes,
      writeDowntimeMs: r.writeDowntimeMs,
      clientDowntimeMs: r.clientDowntimeMs ?? null,
      catchUpMs: catchUp?.ms ?? null,
      fillMs: detail?.fill ?? null,
      refilled: catchUp?.rows ?? null,
      byKind: r.steps.reduce<Record<string, number>>((a, x) => ({ ...a, [x.kind]: (a[x.kind] ?? 0) + x.ms }), {}),
      perService: (r.clientDowntime ?? []).map((d) => ({ service: d.service, ms: d.ms })),
      timeline: await timeline(control).catch(() => []),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function render(rows: Row[]): string {
  const ms = (v: number | null): string => (v === null ? '?' : `${(v / 1000).toFixed(2)} s`);
  const lines = [
    'Online cutover downtime by size of the denormalized tables (devices, orders):',
    '  size   devices   orders   writes   write downtime   client-visible   catch_up   refill   rows refilled',
  ];
  for (const r of rows) {
    lines.push(
      `  ${`${r.factor}×`.padEnd(5)}  ${String(r.devices).padStart(7)}  ${String(r.orders).padStart(7)}  ${String(r.writes).padStart(7)}  ${ms(r.writeDowntimeMs).padStart(15)}  ${ms(r.clientDowntimeMs).padStart(15)}  ${ms(r.catchUpMs).padStart(9)}  ${ms(r.fillMs).padStart(7)}  ${String(r.refilled ?? '?').padStart(14)}`,
    );
  }
  lines.push('', 'Client-visible downtime per service (fence to the first write its new database accepted):');
  const services = [...new Set(rows.flatMap((r) => r.perService.map((p) => p.service)))];
  lines.push(`  ${'service'.padEnd(22)}${rows.map((r) => `${r.factor}×`.padStart(10)).join('')}${rows.length === 2 ? '     ratio' : ''}`);
  for (const svc of services) {
    const v = rows.map((r) => r.perService.find((p) => p.service === svc)?.ms ?? null);
    const ratio = v.length === 2 && v[0] && v[1] !== null ? `${(v[1]! / v[0]).toFixed(2)}`.padStart(10) : '';
    lines.push(`  ${svc.padEnd(22)}${v.map((x) => ms(x).padStart(10)).join('')}${ratio}`);
  }
  if (rows.length === 2 && rows[0]!.clientDowntimeMs && rows[1]!.clientDowntimeMs !== null) {
    lines.push(`  ${'longest'.padEnd(22)}${rows.map((r) => ms(r.clientDowntimeMs).padStart(10)).join('')}${(rows[1]!.clientDowntimeMs / rows[0]!.clientDowntimeMs).toFixed(2).padStart(10)}`);
  }
  for (const r of rows) {
    lines.push('', `${r.factor}× by step kind: ${Object.entries(r.byKind).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}`);
    lines.push(`${r.factor}× timeline (ms from the fence):`);
    for (const t of r.timeline) lines.push(`  ${String(t.from).padStart(6)} → ${String(t.to).padStart(6)}  ${t.step}${t.phases ? ` (${t.phases})` : ''}`);
  }
  lines.push(
    '',
    'write downtime: from the fence to the end of replication; client-visible: from the fence to the first write the',
    "slowest service's new database accepted after its repoint. The refill touches the rows written since the fill",
    'before the fence, not the tables: it should not grow with them.',
  );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { scale: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } } });
  const scale = Number(values.scale);
  if (!(scale > 0)) {
    process.stderr.write('usage: npm run bench:cutover -- [--scale N] [--json]\n');
    return 2;
  }
  const cluster = await startLocalCluster({ binDir: PG15_BIN, settings: SETTINGS });
  try {
    const rows: Row[] = [];
    for (const factor of [1, 10]) {
      process.stderr.write(`cutover at ${factor}× (sample scale ${scale * factor})...\n`);
      rows.push(await one(cluster, scale, factor));
    }
    process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : render(rows));
    return 0;
  } finally {
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
