import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

async function filesOf(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (!p.endsWith('.json') && !p.endsWith('.yaml') ? true : p.includes('/deploy/')) out.set(relative(dir, p), await readFile(p, 'utf8'));
    }
  };
  await walk(join(dir, 'services'));
  await walk(join(dir, 'deploy'));
  out.set('atlas.hcl', await readFile(join(dir, 'atlas.hcl'), 'utf8'));
  return out;
}

/** Lines that differ between two texts of the same length in lines. */
function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i]!] as [string, string]]));
}

describe('repoint_config on a services tree like the seed', () => {
  it('repoints every configured file, keeping comments, order, passwords and parameters; a second apply changes nothing', async () => {
    const fx = await splitFixture({ scale: 0.1, withConfig: true });
    fixtures.push(fx);
    const before = await filesOf(fx.dir);
    await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const after = await filesOf(fx.dir);

    for (const s of fx.services) {
      const env = `services/${s.name}/.env`;
      const diff = changedLines(before.get(env)!, after.get(env)!);
      expect(diff.map(([, b]) => b.split('=')[0]!.replace(/^export /, ''))).toEqual(['DB_USERNAME', 'DB_DATABASE', 'DATABASE_URL']);
      // The service logs in as its own role; its password stays where it was (the tool never writes a secret).
      expect(diff[0]![1]).toMatch(new RegExp(`DB_USERNAME=${s.role}$`));
      expect(after.get(env)).toMatch(/^(export )?DB_PASSWORD="secret"$/m);
      const url = diff[2]![1];
      // The quoting and ?sslmode= of the URL that was there survive; only the database changes.
      expect(url).toMatch(new RegExp(`^(export )?DATABASE_URL=(["']?)postgres://[^/@]+/${s.database}\\?sslmode=disable\\2$`));
      const values = `deploy/helm/${s.name}/values.yaml`;
      const vdiff = changedLines(before.get(values)!, after.get(values)!);
      expect(vdiff).toHaveLength(1);
      expect(vdiff[0]![1]).toMatch(new RegExp(`name: ${s.database}\\b`));
      // Comments survive untouched.
      expect(after.get(values)!.match(/#.*/g)).toEqual(before.get(values)!.match(/#.*/g));
      expect(after.get(`services/${s.name}/src/app.module.ts`)).toContain(`'${s.database}'`);
      // A URL's user and password survive a replace entry too.
      expect(after.get('atlas.hcl')).toMatch(new RegExp(`postgres://svc:secret@[^/]+/${s.database}\\?search_path=public&sslmode=disable&application_name=${s.name}"`));
    }
    expect(after.get('atlas.hcl')).not.toContain('/cloudphone_core?');
    const untouched = [...before.keys()].filter((k) => !/\.env$|values\.yaml$|app\.module\.ts$|atlas\.hcl$/.test(k));
    for (const k of untouched) expect(after.get(k), k).toBe(before.get(k));

    const mtimes = await Promise.all([...after.keys()].map(async (k) => (await stat(join(fx.dir, k))).mtimeMs));
    const again = await fx.cli('apply', fx.planFile, '--yes');
    expect(again.code, again.stderr).toBe(0);
    expect(await filesOf(fx.dir)).toEqual(after);
    expect(await Promise.all([...after.keys()].map(async (k) => (await stat(join(fx.dir, k))).mtimeMs))).toEqual(mtimes);
  });

  it('leaves a file edited between plan and apply alone and stops with exit 3 naming it', async () => {
    const fx = await splitFixture({ scale: 0.1, withConfig: true });
    fixtures.push(fx);
    await fx.plan();
    const file = join(fx.dir, 'services/device-service/.env');
    const edited = `${await readFile(file, 'utf8')}\nFEATURE_FLAG=on\n`;
    await writeFile(file, edited);
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    expect(applied.code).toBe(3);
    expect(applied.stderr).toContain('services/device-service/.env');
    expect(applied.stderr).toMatch(/changed since the plan/);
    expect(applied.stderr).toMatch(/rerun|resume/);
    expect(await readFile(file, 'utf8')).toBe(edited);
  });
});
