import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { readPlanFile } from '../../src/plan/plan-file.js';
import { stepsOf } from '../../src/verify/plan-tables.js';
import { SPLIT_ENV } from '../../src/plan/copy-ranges.js';

interface JournalRow {
  step_id: string;
  state: string;
  started_at: Date | null;
  rows: string | null;
}

const ROWS = 240_000;

describe('a table copied in primary-key ranges', () => {
  it('is planned as ranges; a kill during its copy costs at most the range in flight on resume', async () => {
    const p = uniquePrefix();
    const server = servers().main;
    const sourceUrl = await createDatabase(server, `${p}src`);
    const controlUrl = await createDatabase(server, `${p}control`);
    await query(
      sourceUrl,
      `CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
       INSERT INTO public.events SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, ${ROWS}) AS i;
       ANALYZE public.events`,
    );
    const dir = await mkdtemp(join(tmpdir(), 'cps-range-'));
    const manifest = join(dir, 'split.yaml');
    await writeFile(
      manifest,
      [
        'version: 1',
        `name: ${p}ranges`,
        'source:',
        '  url: ${SRC_URL}',
        'control:',
        '  url: ${CTRL_URL}',
        'services:',
        '  svc:',
        `    database: ${p}svc`,
        '    tables: [events]',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, SRC_URL: sourceUrl, CTRL_URL: controlUrl, NO_COLOR: '1', [SPLIT_ENV]: '5MB' };

    const planFile = join(dir, 'plan.json');
    const planned = await runCli(['plan', '-m', manifest, '-o', planFile], env);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = await readPlanFile(planFile);
    const ranges = stepsOf(plan, 'copy_data');
    expect(ranges.length).toBeGreaterThanOrEqual(6);
    expect(ranges.every((r, i) => r.range?.index === i && r.range.of === ranges.length)).toBe(true);
    // The first range empties the table and freezes its rows; the others wait for it and only add theirs.
    expect(ranges[0]!.sql).toContain('TRUNCATE ONLY "public"."events"');
    expect(ranges[0]!.copyIn).toContain('FREEZE');
    for (const r of ranges.slice(1)) {
      expect(r.dependsOn).toContain(ranges[0]!.id);
      expect(r.sql.some((s) => /TRUNCATE|DELETE/.test(s))).toBe(false);
      expect(r.copyIn).not.toContain('FREEZE');
    }
    expect(ranges[0]!.range!.where).toMatch(/^s\."id" < \d+$/);
    expect(ranges.at(-1)!.range!.where).toMatch(/^s\."id" >= \d+$/);
    const indexes = stepsOf(plan, 'create_indexes').find((s) => s.table === 'public.events' && !s.id.includes('#'))!;
    expect(indexes.dependsOn).toEqual(expect.arrayContaining(ranges.map((r) => r.id)));

    // Kill the apply (one job: one range at a time) once a few ranges are done.
    const journal = async (): Promise<JournalRow[]> =>
      query<JournalRow>(
        controlUrl,
        `SELECT step_id, state, started_at, rows::text AS rows FROM cloudphone_split.steps
          WHERE run_id = (SELECT max(id) FROM cloudphone_split.runs WHERE split = $1) AND step_id LIKE 'copy_data:%'`,
        [`${p}ranges`],
      ).catch(() => []);
    const cli = spawnCli(['apply', planFile, '--yes', '--jobs', '1'], env);
    let exited = false;
    void cli.done.then(() => (exited = true));
    const deadline = Date.now() + 60_000;
    for (;;) {
      expect(exited, `apply ended before the kill:\n${cli.output().stderr}`).toBe(false);
      expect(Date.now()).toBeLessThan(deadline);
      if ((await journal()).filter((r) => r.state === 'done').length >= 3) break;
      await sleep(2);
    }
    cli.child.kill('SIGKILL');
    expect((await cli.done).signal).toBe('SIGKILL');
    const atKill = await journal();
    const doneBefore = atKill.filter((r) => r.state === 'done');
    const inFlight = atKill.filter((r) => r.state === 'running');
    expect(doneBefore.length).toBeGreaterThanOrEqual(3);
    expect(doneBefore.length).toBeLessThan(ranges.length);
    expect(inFlight.length).toBeLessThanOrEqual(1);
    const killedAt = new Date();
    // Let the killed process's sessions leave before resuming (its lock is then free).
    for (let i = 0; i < 200; i++) {
      const n = await query<{ n: number }>(server, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'cloudphone-split%' AND datname IN ($1, $2, $3)`, [`${p}src`, `${p}control`, `${p}svc`]);
      if (n[0]!.n === 0) break;
      await sleep(25);
    }

    const resumed = await runCli(['apply', planFile, '--yes', '--jobs', '1'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await journal();
    expect(after.every((r) => r.state === 'done' || r.state === 'skipped')).toBe(true);
    const rerun = after.filter((r) => r.started_at !== null && r.started_at > killedAt);
    // Every range done before the kill was kept; only the ones not done were copied again.
    expect(rerun.map((r) => r.step_id).sort()).toEqual(ranges.map((r) => r.id).filter((id) => !doneBefore.some((d) => d.step_id === id)).sort());
    const perRange = Math.ceil(ROWS / ranges.length) * 1.5;
    const neverStarted = rerun.filter((r) => !inFlight.some((f) => f.step_id === r.step_id));
    const recopiedRows = rerun.reduce((a, r) => a + Number(r.rows), 0) - neverStarted.reduce((a, r) => a + Number(r.rows), 0);
    expect(recopiedRows).toBeLessThanOrEqual(perRange);

    const target = withDatabase(server, `${p}svc`);
    const counts = await query<{ n: number; d: number; lo: string; hi: string }>(target, 'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, min(id)::text AS lo, max(id)::text AS hi FROM public.events');
    expect(counts[0]).toEqual({ n: ROWS, d: ROWS, lo: '1', hi: String(ROWS) });
    expect(after.reduce((a, r) => a + Number(r.rows), 0)).toBe(ROWS);
  });
});
