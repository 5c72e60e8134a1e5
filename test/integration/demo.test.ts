import { readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { assertBuilt, runSpawned, spawnCli } from './helpers/cli.js';

/** The `export K='v'` lines of a demo.env file. */
function readExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^export ([A-Z0-9_]+)='((?:[^']|'\\'')*)'$/gm)) out[m[1]!] = m[2]!.replaceAll(`'\\''`, "'");
  return out;
}

/**
 * The README's first command: `npx cloudphone-split demo` runs the whole story on its own
 * embedded PostgreSQL, with no setup, and exits 0. Run here as a user runs it: the built CLI.
 */
describe('demo', () => {
  it('plans, applies and verifies the sample split on its own server, exit 0', async () => {
    assertBuilt();
    const r = await runSpawned(['demo', '--scale', '0.3'], { ...process.env, NO_COLOR: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/verify: all \d+ checks passed/);
    expect(r.stdout).toContain('6 databases created');
    expect(r.stdout).toMatch(/config files repointed/);
    expect(r.stdout).toContain('fenced, read-only, kept as a backup');
  });

  it('--dry-run prints the statements and the config diffs, exit 0', async () => {
    assertBuilt();
    const r = await runSpawned(['demo', '--dry-run', '--scale', '0.1'], { ...process.env, NO_COLOR: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/CREATE DATABASE/);
    expect(r.stdout).toMatch(/^\s*--- services\/api-gateway\/\.env$/m);
    expect(r.stdout).toMatch(/^\s*@@ -\d+,\d+ \+\d+,\d+ @@$/m);
  });

  it('--keep leaves a SCRAM-only server and a 0600 file with its passwords, never printed, that psql settings and the CLI work with; Ctrl-C stops it and removes its data', async () => {
    assertBuilt();
    const demo = spawnCli(['demo', '--keep', '--scale', '0.05'], { ...process.env, NO_COLOR: '1' });
    let folder: string | undefined;
    let dataDirectory: string | undefined;
    try {
      const deadline = Date.now() + 180_000;
      while (!/keeps running/.test(demo.output().stdout)) {
        const ended = await Promise.race([demo.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 250))]);
        if (ended || Date.now() > deadline) throw new Error(`demo --keep never said the server keeps running:\n${demo.output().stdout}\n${demo.output().stderr}`);
      }
      const printed = demo.output().stdout + demo.output().stderr;
      const file = /^ {2}\. (\S+\/demo\.env)$/m.exec(printed)?.[1];
      expect(file, printed).toBeDefined();
      folder = dirname(file!);
      expect((await stat(file!)).mode & 0o777).toBe(0o600);
      const vars = readExports(await readFile(file!, 'utf8'));
      const secrets = Object.entries(vars).filter(([k]) => k.endsWith('PASSWORD')).map(([, v]) => v);
      expect(secrets.length, 'PGPASSWORD and the six service passwords').toBe(7);
      for (const secret of secrets) expect(printed).not.toContain(secret);
      expect(vars.CLOUDPHONE_CORE_URL).toMatch(/^postgres:\/\/postgres:[^*]+@127\.0\.0\.1:\d+\/cloudphone_core$/);

      // psql's own variables reach the kept server, which asks for SCRAM on every TCP line.
      const c = new pg.Client({ host: vars.PGHOST, port: Number(vars.PGPORT), user: vars.PGUSER, password: vars.PGPASSWORD, database: 'cloudphone_device' });
      await c.connect();
      try {
        const tables = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
        expect(tables.rows[0]!.n).toBeGreaterThan(0);
        const auth = await c.query<{ m: string }>(`SELECT DISTINCT auth_method AS m FROM pg_hba_file_rules WHERE type LIKE 'host%'`);
        expect(auth.rows.map((r) => r.m)).toEqual(['scram-sha-256']);
        dataDirectory = (await c.query<{ d: string }>(`SELECT current_setting('data_directory') AS d`)).rows[0]!.d;
      } finally {
        await c.end();
      }

      // The printed commands run as shown once the file is read into the shell.
      const manifest = /npx cloudphone-split status -m (\S+)$/m.exec(printed)?.[1];
      expect(manifest, printed).toBeDefined();
      const status = await runSpawned(['status', '-m', manifest!], { ...process.env, ...vars, NO_COLOR: '1' });
      expect(status.code, status.stdout + status.stderr).toBe(0);
      expect(status.stdout).toMatch(/succeeded|applied/);
      for (const secret of secrets) expect(status.stdout + status.stderr).not.toContain(secret);
    } finally {
      demo.child.kill('SIGINT');
      const end = await demo.done;
      const kept = folder ? await stat(folder).then(() => true, () => false) : false;
      if (folder) await rm(folder, { recursive: true, force: true });
      // Ctrl-C: exit 130 as for any interrupted command, the server's data gone, the manifests' folder kept.
      expect(end.code, end.stderr).toBe(130);
      expect(kept, 'the folder with the manifests and demo.env').toBe(true);
      expect(dataDirectory).toBeDefined();
      expect(await stat(dataDirectory!).then(() => 'still there', () => 'gone'), dataDirectory).toBe('gone');
    }
  });

  it('Ctrl-C in the middle of apply: exit 130 without a crash, the server stopped, its folder and the sample tree removed', async () => {
    assertBuilt();
    const demo = spawnCli(['demo', '--scale', '1'], { ...process.env, NO_COLOR: '1' });
    const deadline = Date.now() + 180_000;
    while (!/━━ 4\/5 apply/.test(demo.output().stdout)) {
      const ended = await Promise.race([demo.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))]);
      if (ended || Date.now() > deadline) throw new Error(`demo never reached apply:\n${demo.output().stdout}\n${demo.output().stderr}`);
    }
    const printed = demo.output().stdout;
    const folder = /manifest written to (\S+)$/m.exec(printed)?.[1];
    const port = /listening at postgres:\/\/[^@]+@127\.0\.0\.1:(\d+)\//.exec(printed)?.[1];
    expect(folder, printed).toBeDefined();
    expect(port, printed).toBeDefined();
    demo.child.kill('SIGINT');
    const end = await demo.done;
    expect(end.code, `${end.stdout}\n${end.stderr}`).toBe(130);
    expect(end.stderr + end.stdout).not.toMatch(/Unhandled 'error' event|node:events|^\s+at /m);
    expect(await stat(folder!).then(() => 'still there', () => 'gone'), folder).toBe('gone');
    const probe = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password: 'x', database: 'postgres', connectionTimeoutMillis: 5000 });
    probe.on('error', () => undefined);
    const refused = await probe.connect().then(
      async () => {
        await probe.end();
        return 'accepted';
      },
      (err: Error & { code?: string }) => err.code ?? err.message,
    );
    expect(refused, 'nothing listens on the demo server port any more').toBe('ECONNREFUSED');
  });
});
