import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli as cli } from './helpers/cli.js';
import { startEmbedded } from '../../src/demo/embedded.js';
import { splitFixture } from './helpers/split-fixture.js';
import { loadSample } from '../../src/demo/sample-database.js';
import { sampleManifest, SAMPLE_ENV_VARS } from '../../src/demo/sample-manifest.js';
import { freePort } from '../../src/pg/cluster.js';
import { createDatabase, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';


/** The errors a newcomer meets first: each names the problem and the fix, without a stack trace. */
describe('errors a newcomer meets', () => {
  let dir: string;
  let manifest: string;
  let source: string;
  let prefix: string;
  const baseEnv = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, CLOUDPHONE_CORE_URL: source, SPLIT_CONTROL_URL: withDatabase(servers().main, `${prefix}control`) };
    for (const v of SAMPLE_ENV_VARS) if (v.endsWith('_PASSWORD')) env[v] = 'pw-123456';
    return { ...env, ...over };
  };

  beforeAll(async () => {
    prefix = uniquePrefix();
    source = await createDatabase(servers().main, `${prefix}core`);
    await loadSample(source);
    dir = await mkdtemp(join(tmpdir(), 'cps-errors-'));
    manifest = join(dir, 'split.yaml');
    await writeFile(manifest, sampleManifest({ prefix }));
  });

  const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);

  it('the installed command exits with the code the SPEC gives (spawned, not in-process)', () => {
    const bin = join(import.meta.dirname, '../../bin/cloudphone-split.js');
    const r = spawnSync(process.execPath, [bin, 'plan', '-m', join(dir, 'missing.yaml')], { encoding: 'utf8', env: baseEnv() });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('missing.yaml');
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const command of ['plan', 'snapshot', 'apply', 'verify', 'status', 'demo', 'init']) expect(help.stdout).toContain(command);
  });

  it('manifest not found', async () => {
    const r = await cli(['plan', '-m', join(dir, 'missing.yaml')], baseEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.yaml');
    expect(r.stderr).toMatch(/init --from/);
    noStack(r.stderr);
  });

  it('no such database', async () => {
    const r = await cli(['plan', '-m', manifest, '-o', join(dir, 'p.json')], baseEnv({ CLOUDPHONE_CORE_URL: withDatabase(servers().main, `${prefix}nope`) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`database "${prefix}nope" does not exist`);
    expect(r.stderr).toMatch(/fix:/);
    noStack(r.stderr);
  });

  it('wrong password', async () => {
    const u = new URL(source);
    u.password = 'definitely-wrong';
    const r = await cli(['plan', '-m', manifest, '-o', join(dir, 'p.json')], baseEnv({ CLOUDPHONE_CORE_URL: u.toString() }));
    expect(r.code).toBe(2);
    // The test servers' password is their user name, "postgres", and the control URL's
    // password is a secret of the run from the first line: the name is scrubbed with it.
    expect(r.stderr).toMatch(/rejected user "\*\*\*": password authentication failed/);
    expect(r.stderr).not.toContain('definitely-wrong');
    noStack(r.stderr);
  });

  it('server unreachable', async () => {
    const port = await freePort();
    const r = await cli(['plan', '-m', manifest, '-o', join(dir, 'p.json')], baseEnv({ CLOUDPHONE_CORE_URL: `postgres://postgres:secretpw@127.0.0.1:${port}/x` }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/connection refused/);
    expect(r.stderr).toMatch(/is PostgreSQL running there/);
    expect(r.stderr).not.toContain('secretpw');
    noStack(r.stderr);
  });

  it('no CREATEDB privilege', async () => {
    const role = `${prefix}weak`;
    await query(servers().main, `CREATE ROLE ${role} LOGIN PASSWORD 'weakpw-1'`);
    await query(source, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await query(servers().main, `GRANT CONNECT ON DATABASE ${prefix}core TO ${role}`);
    const control = await createDatabase(servers().main, `${prefix}ctl2`);
    await query(servers().main, `ALTER DATABASE ${prefix}ctl2 OWNER TO ${role}`);
    const u = new URL(source);
    u.username = role;
    u.password = 'weakpw-1';
    const cu = new URL(control);
    cu.username = role;
    cu.password = 'weakpw-1';
    const r = await cli(['apply', '--yes', '-m', manifest], baseEnv({ CLOUDPHONE_CORE_URL: u.toString(), SPLIT_CONTROL_URL: cu.toString() }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/lacks CREATEDB/);
    expect(r.stderr).toMatch(/ALTER ROLE/);
    noStack(r.stderr);
    // Nothing was created: preflight runs before any change.
    const dbs = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE $1`, [`${prefix}cloudphone%`]);
    expect(dbs[0]!.n).toBe(0);
  });

  it("a role's password variable set but empty: plan warns, apply refuses (exit 2) naming the variable, before any change", async () => {
    const env = baseEnv({ USER_DB_PASSWORD: '' });
    const planned = await cli(['plan', '-m', manifest, '-o', join(dir, 'empty.json')], env);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain('services.user-service.role.password: variable USER_DB_PASSWORD is set but empty: an empty password is no password, and the role could not log in; apply refuses it');
    const r = await cli(['apply', '--yes', '-m', manifest], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('services.user-service.role.password: variable USER_DB_PASSWORD is set but empty');
    expect(r.stderr).toContain("fix: set USER_DB_PASSWORD to the role's password");
    noStack(r.stderr);
    const made = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE $1`, [`${prefix}cloudphone%`]);
    expect(made[0]!.n).toBe(0);
  });

  it('a schema in source.schemas the source does not have: exit 2 naming it, with the lower-case name PostgreSQL made', async () => {
    const wrong = join(dir, 'schemas.yaml');
    await writeFile(wrong, sampleManifest({ prefix }).replace('schemas: [public]', 'schemas: [public, HumanResources]'));
    const r = await cli(['plan', '-m', wrong, '-o', join(dir, 'schemas.json')], baseEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('source.schemas[1]: schema "HumanResources" does not exist in the source database');
    expect(r.stderr).toContain('write humanresources');
    noStack(r.stderr);
  });

  it('--verbose shows the stack trace', async () => {
    const r = await cli(['plan', '-v', '-m', manifest, '-o', join(dir, 'p.json')], baseEnv({ CLOUDPHONE_CORE_URL: withDatabase(servers().main, `${prefix}nope`) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('online mode on a server without logical replication', () => {
  it('stops at preflight naming wal_level and the restart it needs, before any change', async () => {
    const server = await startEmbedded({ settings: { wal_level: 'replica' } });
    const fx = await splitFixture({ source: server.url, scale: 0.1, edit: (doc) => void (doc.mode = 'online') });
    try {
      await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
      await fx.plan();
      const r = await fx.cli('apply', fx.planFile, '--yes');
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/wal_level/);
      expect(r.stderr).toMatch(/logical/);
      expect(r.stderr).toMatch(/restart/i);
      expect(r.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
      const dbs = await query<{ n: number }>(server.url, `SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE $1 AND datname <> $2`, [`${fx.prefix}cloudphone_%`, fx.sourceDb]);
      expect(dbs[0]!.n).toBe(0);
    } finally {
      await fx.cleanup().catch(() => undefined);
      await server.stop();
    }
  });
});
