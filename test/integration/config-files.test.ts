import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
const strays: string[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  for (const path of strays) await rm(path, { recursive: true, force: true });
});

async function fixture(opts: Parameters<typeof splitFixture>[0] = {}): Promise<SplitFixture> {
  const fx = await splitFixture({ source: servers().main, withConfig: true, ...opts });
  fixtures.push(fx);
  return fx;
}

type Doc = { services: Record<string, { config: Array<Record<string, unknown>> }> };

async function editManifest(fx: SplitFixture, edit: (doc: Doc) => void): Promise<void> {
  const doc = parse(await readFile(fx.manifestFile, 'utf8')) as Doc;
  edit(doc);
  await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
}

/** Every file under the fixture's folder but the manifest, plans and `outside`, by path. */
async function tree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    const rel = relative(dir, path);
    if (!e.isFile() || rel === 'split.yaml' || rel.endsWith('.plan.json')) continue;
    files[rel] = await readFile(path, 'utf8');
  }
  return files;
}

describe('config file paths', () => {
  it('a file outside the manifest folder (../x.env, an absolute path, a symlink pointing out) is a manifest error unless the entry says outside: true', async () => {
    const fx = await fixture();
    const elsewhere = join(tmpdir(), `${fx.prefix}elsewhere`);
    strays.push(elsewhere, join(fx.dir, '..', `${fx.prefix}x.env`));
    await mkdir(elsewhere, { recursive: true });
    await writeFile(join(elsewhere, 'x.env'), 'DB_DATABASE=cloudphone_core\n');
    await writeFile(join(fx.dir, '..', `${fx.prefix}x.env`), 'DB_DATABASE=cloudphone_core\n');
    await symlink(join(elsewhere, 'x.env'), join(fx.dir, 'linked.env'));
    const entries = [`../${fx.prefix}x.env`, join(elsewhere, 'x.env'), 'linked.env'];
    // The sample's own entries come first: the added ones are numbered after them.
    let first = -1;
    await editManifest(fx, (doc) => {
      first = doc.services['user-service']!.config.length;
      doc.services['user-service']!.config.push(...entries.map((file) => ({ file, key: 'DB_DATABASE' })));
    });
    expect(first).toBeGreaterThan(0);
    const before = await readFile(join(elsewhere, 'x.env'), 'utf8');

    const refused = await fx.cli('plan');
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain('3 problems in the manifest');
    for (const [i, file] of entries.entries()) {
      expect(refused.stderr).toContain(`services.user-service.config[${first + i}].file: ${file} resolves to `);
    }
    expect(refused.stderr).toContain(`linked.env resolves to ${join(elsewhere, 'x.env')}, outside the manifest's folder`);
    expect(refused.stderr).toContain('add outside: true to this entry');
    const applied = await fx.cli('apply', '--yes');
    expect(applied.code).toBe(2);
    expect(await readFile(join(elsewhere, 'x.env'), 'utf8')).toBe(before);

    await editManifest(fx, (doc) => {
      for (const e of doc.services['user-service']!.config.slice(5)) e.outside = true;
    });
    const planned = await fx.cli('plan');
    expect(planned.code, planned.stderr).toBe(0);
    // plan shows each config diff, as apply --dry-run does.
    expect(planned.stdout).toContain(`~ config linked.env: DB_DATABASE=`);
    expect(planned.stdout).toContain(`+DB_DATABASE=${fx.service('user').database}`);
    expect(planned.stdout).toContain(`~ config services/device-service/src/app.module.ts: replace "'cloudphone_core'"`);
  });
});

describe('config values', () => {
  it('are written as they are, ${VAR} included (not expanded, not required), and plan warns of it and of an edit that changes a secret', async () => {
    const fx = await fixture();
    await writeFile(join(fx.dir, 'secret.env'), 'DB_PASSWORD=Old-BillPw-2b\nDB_DATABASE=cloudphone_core\n');
    await editManifest(fx, (doc) => {
      doc.services['user-service']!.config.push(
        { file: 'secret.env', key: 'DB_PASSWORD', value: '${SPLIT_TEST_UNSET_PASSWORD}' },
        { file: 'secret.env', key: 'DB_DATABASE' },
      );
    });
    expect(fx.env.SPLIT_TEST_UNSET_PASSWORD).toBeUndefined();
    const planned = await fx.cli('plan');
    expect(planned.code, planned.stderr).toBe(0);
    const warnings = planned.stdout + planned.stderr;
    expect(warnings).toContain('user-service: config secret.env DB_PASSWORD=: ${SPLIT_TEST_UNSET_PASSWORD} is written into the file as it is, not expanded');
    expect(warnings).toContain('user-service: config secret.env DB_PASSWORD=: this edit changes a secret (a password-named key or a URL\'s password), which rollback cannot put back');
    // The entry that only changes the database name is not warned of.
    expect(warnings).not.toContain('config secret.env DB_DATABASE=: this edit changes a secret');
    // The old password is never shown.
    expect(warnings).not.toContain('Old-BillPw-2b');
    const applied = await fx.cli('apply', '--yes');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(await readFile(join(fx.dir, 'secret.env'), 'utf8')).toBe(`DB_PASSWORD=\${SPLIT_TEST_UNSET_PASSWORD}\nDB_DATABASE=${fx.service('user').database}\n`);
    // As plan said: rollback cannot rebuild that file's old secret, and refuses with nothing changed, which leaves
    // the split as applied (not "partly undone": status and apply say nothing of an unfinished rollback).
    const rollback = await fx.cli('rollback', '--yes');
    expect(rollback.code, rollback.stdout + rollback.stderr).toBe(1);
    expect(rollback.stderr).toContain('secret.env: its original cannot be rebuilt exactly (a secret on a changed line differs)');
    expect((await fx.cli('status')).stdout).not.toContain('did not finish');
    const again = await fx.cli('apply', '--yes');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing left to do');
  });
});

describe('config files changed since the plan', () => {
  it('one changed file refuses the run before any file is written; a plan made again finishes it', async () => {
    const fx = await fixture();
    await fx.plan();
    const original = await tree(fx.dir);
    // Someone edits one of user-service's files after the plan was reviewed.
    const changed = 'services/user-service/src/app.module.ts';
    const edited = `${original[changed]!}\n// edited after the plan\n`;
    await writeFile(join(fx.dir, changed), edited);

    const refused = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('no config file was written');
    expect(refused.stderr).toContain(`${changed} changed since the plan showed its diff`);
    expect(await tree(fx.dir)).toEqual({ ...original, [changed]: edited });
    // The data is all there: the refusal came after the copy and its checks.
    for (const s of fx.services) {
      const [db] = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [s.database]);
      expect(db!.n).toBe(1);
    }

    // The same plan keeps refusing; a plan made again from the manifest finishes the run.
    const same = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(same.code).toBe(3);
    expect(await tree(fx.dir)).toEqual({ ...original, [changed]: edited });
    // A manifest changed beyond its config is planned afresh and refused as another plan, leaving the plan files as they were.
    const manifestText = await readFile(fx.manifestFile, 'utf8');
    const doc = parse(manifestText) as { source: Record<string, unknown> };
    doc.source.retire = !(doc.source.retire ?? false);
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    const planText = await readFile(fx.planFile, 'utf8');
    const other = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toContain('refusing to resume with a different plan');
    expect(await readFile(fx.planFile, 'utf8')).toBe(planText);
    expect((await readdir(fx.dir)).filter((f) => f.endsWith('.plan.json'))).toEqual([]);
    await writeFile(fx.manifestFile, manifestText);
    // A temporary of a config file's write, as a run killed between the write and the rename leaves it, a moment ago:
    // the run repointing the file (under the split's lock) takes it away.
    const left = join(fx.dir, dirname(changed), `.${basename(changed)}.0123456789ab.tmp`);
    await writeFile(left, 'half written');
    const again = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const after = await tree(fx.dir);
    expect(Object.keys(after).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(after[changed]).toContain(`'${fx.service('user').database}'`);
    expect(after[changed]).toContain('// edited after the plan');
    for (const [file, text] of Object.entries(original)) if (file !== changed) expect(after[file], file).not.toBe(text);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});

describe('a run stopped after it repointed config files', () => {
  it('is resumed by the same apply -m, though planning again no longer finds the text its replace: entries replaced', async () => {
    const fx = await fixture({
      edit: (doc) => {
        // The user service's restart fails until the file restart-ok exists (restart commands run in the manifest's folder).
        (doc.services as Record<string, Record<string, unknown>>)['user-service']!.restart = 'test -e restart-ok || exit 7';
      },
    });
    const stopped = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stderr).toContain('exited with 7');
    expect(await readFile(join(fx.dir, 'services/user-service/src/app.module.ts'), 'utf8')).toContain(fx.service('user').database);
    await writeFile(join(fx.dir, 'restart-ok'), '');
    const resumed = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
