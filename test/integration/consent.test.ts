import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { runCli } from './helpers/cli.js';

const fixtures: SplitFixture[] = [];
/** The sample, loaded once and cloned by every case: consent and idempotence are not about its size. */
let template = '';
beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.05);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

async function fixture(opts: Parameters<typeof splitFixture>[0] = {}): Promise<SplitFixture> {
  const fx = await splitFixture({ source: servers().main, template, ...opts });
  fixtures.push(fx);
  return fx;
}

/** Every database and role of the fixture's prefix, the fence triggers in the source. */
async function footprint(fx: SplitFixture) {
  const databases = await query<{ datname: string }>(servers().main, `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  const roles = await query<{ rolname: string }>(servers().main, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  const [fence] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
  return { databases: databases.map((d) => d.datname), roles: roles.map((r) => r.rolname), fenced: fence!.n };
}

/** The services tree: every file's text by path. */
async function tree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const e of await readdir(join(dir, 'services'), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    files[relative(dir, path)] = await readFile(path, 'utf8');
  }
  files['atlas.hcl'] = await readFile(join(dir, 'atlas.hcl'), 'utf8');
  return files;
}

describe('consent', () => {
  it('apply in a non-interactive session (CI, a pipe, | tee) changes nothing without --yes, with or without a plan file', async () => {
    const fx = await fixture();
    await fx.plan();
    const before = await footprint(fx);
    expect(before.databases).toEqual([`${fx.prefix}cloudphone_core`]);

    for (const args of [[fx.planFile], []]) {
      const r = await fx.cli('apply', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('no terminal to ask on: nothing was changed');
      expect(r.stderr).toContain('fix: add --yes');
      // Not even the control database was created.
      expect(await footprint(fx)).toEqual(before);
    }
    // --dry-run changes nothing and needs no consent.
    const dry = await fx.cli('apply', fx.planFile, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(await footprint(fx)).toEqual(before);
  });

  it('apply on a terminal asks once: anything but "yes" changes nothing; "yes" runs the split', async () => {
    const fx = await fixture({ withConfig: true });
    const before = await footprint(fx);
    const files = await tree(fx.dir);

    const declined = await runCli(['apply', '-m', fx.manifestFile, '--jobs', '2'], fx.env, { terminal: true, answer: 'no' });
    expect(declined.code, declined.stderr).toBe(0);
    expect(declined.stderr).toMatch(/Apply split \S+: 6 databases, \d+ tables copied, then fence and retire \S+\? Type "yes" to go on:/);
    expect(declined.stderr).toContain('Nothing was changed.');
    expect(await footprint(fx)).toEqual(before);
    expect(await tree(fx.dir)).toEqual(files);

    const accepted = await runCli(['apply', '-m', fx.manifestFile, '--jobs', '2'], fx.env, { terminal: true, answer: 'yes' });
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr.match(/Type "yes" to go on/g)).toHaveLength(1);
    const after = await footprint(fx);
    expect(after.databases).toEqual(expect.arrayContaining(fx.services.map((s) => s.database)));
    expect(after.fenced).toBeGreaterThan(0);
  });
});

describe('idempotence', () => {
  it('a second `apply -m manifest.yaml` after a finished split says nothing is left to do and exits 0', async () => {
    const fx = await fixture({ withConfig: true });
    const first = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(first.code, first.stderr).toBe(0);
    const files = await tree(fx.dir);
    const after = await footprint(fx);
    const [runs] = await query<{ n: number }>(fx.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.runs`);

    // The config files are repointed: planning them again would not find the text the entries replace.
    const replanned = await fx.cli('plan', '-o', join(fx.dir, 'again.plan.json'));
    expect(replanned.code).toBe(2);

    for (const args of [['--yes'], [], [join(fx.dir, `${fx.name}.plan.json`)]]) {
      const again = await fx.cli('apply', ...args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('nothing left to do');
      expect(await tree(fx.dir)).toEqual(files);
      expect(await footprint(fx)).toEqual(after);
    }
    const [runsAfter] = await query<{ n: number }>(fx.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.runs`);
    expect(runsAfter!.n).toBe(runs!.n);
  });

  it('a second apply of the plan file of a split that keeps its source (source.retire: false) says nothing is left to do, though its tables now carry the backup mark', async () => {
    const fx = await fixture({ edit: (doc) => void ((doc.source as Record<string, unknown>).retire = false) });
    await fx.plan();
    const first = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(first.code, first.stderr).toBe(0);
    const [marked] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_class WHERE obj_description(oid, 'pg_class') LIKE 'cloudphone-split: moved by split %'`);
    expect(marked!.n).toBeGreaterThan(0);
    const after = await footprint(fx);
    for (const args of [[fx.planFile, '--yes'], ['--yes']]) {
      const again = await fx.cli('apply', ...args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('nothing left to do');
      expect(await footprint(fx)).toEqual(after);
    }
  });
});
