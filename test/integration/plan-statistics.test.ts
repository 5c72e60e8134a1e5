import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPlanFile } from '../../src/plan/plan-file.js';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';

describe('plan on tables the statistics know nothing about', () => {
  const prefix = uniquePrefix();
  let dir = '';
  afterAll(async () => {
    await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}core" WITH (FORCE)`);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('says "not analyzed yet" for a table never analysed, and counts the analysed one', async () => {
    const source = await createDatabase(servers().main, `${prefix}core`);
    await query(
      source,
      `CREATE TABLE fresh (id int PRIMARY KEY); INSERT INTO fresh SELECT generate_series(1, 40);
       CREATE TABLE counted (id int PRIMARY KEY); INSERT INTO counted SELECT generate_series(1, 3); ANALYZE counted;
       CREATE TABLE parts (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE parts_a PARTITION OF parts FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
       CREATE TABLE parts_b PARTITION OF parts FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
       INSERT INTO parts VALUES (1, '2020-05-01'), (2, '2021-05-01'); ANALYZE parts_a;`,
    );
    const [stats] = await query<{ n: number }>(source, `SELECT reltuples::int AS n FROM pg_class WHERE relname = 'fresh'`);
    expect(stats!.n).toBe(-1);
    dir = await mkdtemp(join(tmpdir(), 'cps-stats-'));
    const manifest = join(dir, 'split.yaml');
    await writeFile(manifest, `version: 1\nname: stats\nsource:\n  url: \${SRC}\nservices:\n  a:\n    database: ${prefix}a\n    tables: [fresh, counted, parts]\n`);
    const r = await runCli(['plan', '-m', manifest, '-o', join(dir, 'plan.json'), '--no-color'], { ...process.env, SRC: source, NO_COLOR: '1' });
    expect(r.code, r.stderr).toBe(0);
    const line = (name: string): string => r.stdout.split('\n').find((l) => l.includes(`+ public.${name} `))!;
    expect(line('fresh')).toContain('not analyzed yet');
    expect(line('fresh')).not.toMatch(/\b0 rows/);
    expect(line('counted')).toMatch(/\b3 rows/);
    // One partition never analysed: the parent's count would be short, so it says so too.
    expect(line('parts')).toContain('not analyzed yet');
    expect(r.stdout).toMatch(/3 tables, ~4 rows \(2 not analyzed yet\)/);
    expect(r.stdout).toMatch(/\+ public\.fresh +not analyzed yet/);
    const plan = await readPlanFile(join(dir, 'plan.json'));
    expect(plan.services[0]!.tables.map((t) => [t.name, t.analyzed])).toEqual([
      ['public.counted', true],
      ['public.fresh', false],
      ['public.parts', false],
    ]);
  });
});
