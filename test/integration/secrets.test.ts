import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startEmbedded, type EmbeddedServer } from '../../src/demo/embedded.js';
import { startLocalCluster } from '../../src/pg/cluster.js';
import { TEST_SERVER_SETTINGS } from '../harness/settings.js';
import { query, withDatabase } from '../harness/servers.js';
import { quoteKeywordValue } from '../../src/conn/libpq-keywords.js';
import { scramSha256Verifier } from '../../src/pg/scram-verifier.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { runCli, type CliResult } from './helpers/cli.js';

/**
 * Every secret of a run, in every form the tool accepts, through the whole lifecycle on
 * two servers that log every statement: none of them may be found in what the process
 * printed, the files it wrote, the journal, the server logs, or pg_subscription.
 */

// Passwords with @, #, %, spaces, both quotes, a colon and a backslash: every character
// that URLs, key=value strings, SQL literals, JSON and shells treat specially.
const ADMIN_A = `Src p@ss#w%rd 'q1" :\\a`;
const ADMIN_B = `Tgt:p@ss#%20 'q2" b`;
const ROLE_PW = (key: string) => `Role-${key} p@ss#w%rd 'q" x`;
const WRONG_PW = `Wrong p@ss#w%rd 'q3" c`;
const DEFAULT_PW = `Dflt p@ss#w%rd 'q4" d`;
const LITERAL_PW = `Lit-p@ss%w0rd-e`;

const DAY = 86_400_000;

/** The forms a secret takes on its way: raw, percent-encoded (both ways), JSON, SQL and key=value quoted. */
function formsOf(secret: string): string[] {
  const u = new URL('postgres://h');
  u.password = secret;
  return [...new Set([secret, encodeURIComponent(secret), u.password, JSON.stringify(secret).slice(1, -1), secret.replace(/'/g, "''"), secret.replace(/[\\']/g, '\\$&')])];
}

/** Which of `secrets` (in any form) occur in `text`, as `secret form` labels (empty when none). */
function leaks(text: string, secrets: string[]): string[] {
  const found: string[] = [];
  for (const s of secrets) for (const f of formsOf(s)) if (text.includes(f)) found.push(JSON.stringify(f));
  return found;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

interface LoggedServer {
  /** Superuser URL to database postgres, the password percent-encoded. */
  url: string;
  /** Everything the server logged so far. */
  log(): Promise<string>;
  socketDir: string;
  port: number;
  stop(): Promise<void>;
}

const PG15_BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';
const sql = (v: string) => `'${v.replaceAll("'", "''")}'`;

/** PostgreSQL 18 (embedded): password authentication, its log captured. */
async function embeddedServer(password: string): Promise<LoggedServer> {
  const socketDir = await mkdtemp(join(tmpdir(), 'cps-sock-'));
  // The server runs as the postgres user when the tests run as root.
  await chmod(socketDir, 0o777);
  const lines: string[] = [];
  const server: EmbeddedServer = await startEmbedded({
    password,
    settings: { ...TEST_SERVER_SETTINGS, max_active_replication_origins: '100', log_statement: 'all', unix_socket_directories: socketDir },
    onLog: (text) => lines.push(text),
  });
  return {
    url: server.url,
    log: async () => lines.join('\n'),
    socketDir,
    port: Number(new URL(server.url).port),
    stop: async () => {
      await server.stop();
      await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL 15 (the system's, whose pg_dump archives): its log file, SCRAM authentication set up after start. */
async function localServer(password: string): Promise<LoggedServer> {
  const c = await startLocalCluster({ binDir: PG15_BIN, settings: { ...TEST_SERVER_SETTINGS, log_statement: 'all' } });
  const base = dirname(c.dataDir);
  // The server logs every statement: the admin's password is set as a verifier too.
  await query(c.url, `ALTER ROLE postgres PASSWORD ${sql(scramSha256Verifier(password))}`);
  await writeFile(
    join(c.dataDir, 'pg_hba.conf'),
    ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', 'host replication all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
  );
  await query(c.url, 'SELECT pg_reload_conf()');
  const u = new URL(c.url);
  u.password = encodeURIComponent(password);
  return {
    url: u.toString(),
    log: async () => readFile(join(base, 'log'), 'utf8'),
    socketDir: base,
    port: c.port,
    stop: () => c.stop(),
  };
}

describe('secrets never leak', () => {
  let a: LoggedServer;
  let b: LoggedServer;
  const fixtures: SplitFixture[] = [];
  /** Everything every command printed. */
  const printed: string[] = [];
  /** Passwords of the subscriptions' replication roles, read from pg_subscription. */
  const replicationPasswords: string[] = [];
  const secrets = (): string[] => [
    ADMIN_A,
    ADMIN_B,
    WRONG_PW,
    DEFAULT_PW,
    LITERAL_PW,
    ...['auth', 'user', 'device', 'app', 'billing', 'notification'].map(ROLE_PW),
  ];

  beforeAll(async () => {
    [a, b] = await Promise.all([localServer(ADMIN_A), embeddedServer(ADMIN_B)]);
  }, 180_000);

  afterAll(async () => {
    for (const fx of fixtures) await fx.cleanup().catch(() => undefined);
    for (const s of [a, b]) if (s) await s.stop();
  });

  /** The forms of the connection strings: key=value (control), URL with ?password= or a socket (targets). */
  const dsn = (s: LoggedServer, password: string, database: string, host = '127.0.0.1') =>
    `host=${host} port=${s.port} user=postgres password=${quoteKeywordValue(password)} dbname=${quoteKeywordValue(database)}`;
  const queryPasswordUrl = (s: LoggedServer, password: string) => `postgres://postgres@127.0.0.1:${s.port}/postgres?password=${encodeURIComponent(password)}`;
  const socketUrl = (s: LoggedServer, password: string) =>
    `postgres://postgres@/postgres?host=${encodeURIComponent(s.socketDir)}&port=${s.port}&password=${encodeURIComponent(password)}`;

  async function run(args: string[], env: NodeJS.ProcessEnv, expectCode?: number): Promise<CliResult> {
    const r = await runCli(args, env);
    // What the tool printed (not its arguments, which hold secrets on purpose).
    printed.push(`${args[0]}:\n${r.stdout}\n${r.stderr}`);
    if (expectCode !== undefined) expect(r.code, `${args.join(' ')}\n${r.stderr}\n${r.stdout}`).toBe(expectCode);
    return r;
  }

  async function fixture(mode: 'offline' | 'online', billingForm: 'query' | 'socket'): Promise<SplitFixture> {
    const fx = await splitFixture({
      source: a.url,
      billing: b.url,
      scale: 0.1,
      withConfig: true,
      passwords: Object.fromEntries(['auth', 'user', 'device', 'app', 'billing', 'notification'].map((k) => [k, ROLE_PW(k)])),
      edit: (doc) => {
        doc.mode = mode;
        doc.retention = { days: 7, archive: 'backups' };
        const services = doc.services as Record<string, Record<string, unknown>>;
        // Echoes its environment (every URL and password of the run) and a config value.
        services['user-service']!.restart = 'env; echo "config: $(cat services/user-service/.env)"; echo "pw=$USER_DB_PASSWORD" >&2';
      },
    });
    fixtures.push(fx);
    // The source as a URL with the password percent-encoded in its userinfo (the fixture's
    // form), the control database as key=value, the second server as ?password= or a socket.
    fx.env.SPLIT_CONTROL_URL = dsn(a, ADMIN_A, `${fx.prefix}control`);
    fx.env.BILLING_PG_URL = billingForm === 'query' ? queryPasswordUrl(b, ADMIN_B) : socketUrl(b, ADMIN_B);
    if (mode === 'online') await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    return fx;
  }

  async function readSubscriptions(): Promise<string[]> {
    const infos: string[] = [];
    for (const s of [a, b]) {
      for (const db of await query<{ datname: string }>(s.url, `SELECT datname FROM pg_database WHERE NOT datistemplate`)) {
        const rows = await query<{ subconninfo: string }>(withDatabase(s.url, db.datname), `SELECT subconninfo FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
        infos.push(...rows.map((r) => r.subconninfo));
      }
    }
    return infos;
  }

  async function journalText(fx: SplitFixture): Promise<string> {
    const c = new pg.Client({ connectionString: withDatabase(a.url, `${fx.prefix}control`) });
    await c.connect();
    try {
      const tables = await c.query<{ t: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
      );
      expect(tables.rows.length).toBeGreaterThan(0);
      let text = '';
      for (const { t } of tables.rows) text += JSON.stringify((await c.query(`SELECT * FROM ${t}`)).rows);
      return text;
    } finally {
      await c.end();
    }
  }

  it('finds no secret anywhere after the whole lifecycle and a dozen failures', async () => {
    // 1. init --from, the source as key=value.
    const initDir = await mkdtemp(join(tmpdir(), 'cps-init-'));
    const seed = await fixture('offline', 'query');
    await run(['init', '--from', dsn(a, ADMIN_A, seed.sourceDb), '-o', join(initDir, 'split.yaml'), '--verbose'], seed.env, 0);

    // 2. Offline: plan, apply (the restart command echoes the environment), verify, status, rollback.
    const off = seed;
    await run(['plan', '-m', off.manifestFile, '-o', off.planFile, '--verbose'], off.env, 0);
    await run(['apply', off.planFile, '--yes', '--json', '--verbose'], off.env, 0);
    await run(['verify', '-m', off.manifestFile, '--checksums', '--json'], off.env, 0);
    await run(['status', '-m', off.manifestFile, '--json'], off.env, 0);
    const rolled = await run(['rollback', '-m', off.manifestFile, '--yes', '--verbose'], off.env, 0);
    expect(rolled.stdout + rolled.stderr).toMatch(/user-service/);

    // 3. Online: plan, apply, status, verify, cutover (restart), verify --checksums, retention prune with an archive.
    const on = await fixture('online', 'socket');
    await run(['plan', '-m', on.manifestFile, '-o', on.planFile], on.env, 0);
    await run(['apply', on.planFile, '--yes', '--jobs', '2', '--json'], on.env, 0);
    const subscriptions = await readSubscriptions();
    expect(subscriptions.length).toBe(5);
    for (const info of subscriptions) {
      // The subscription's own role, never the admin.
      expect(leaks(info, secrets()), info).toEqual([]);
      expect(info).not.toMatch(/^postgres:\/\/postgres[:@]/);
      const password = decodeURIComponent(/:\/\/[^:]+:([^@]+)@/.exec(info)![1]!);
      replicationPasswords.push(password);
    }
    await run(['status', '-m', on.manifestFile], on.env, 0);
    // Before cutover the sequences are not synced yet: a difference (exit 1), printed without secrets.
    await run(['verify', '-m', on.manifestFile, '--json'], on.env, 1);
    const cut = await run(['cutover', '-m', on.manifestFile, '--yes', '--json', '--verbose'], on.env, 0);
    expect(cut.stdout + cut.stderr).toMatch(/config: /);
    // Reverse replication runs after cutover: the old database subscribes to each new one, as a role of its own.
    const reverse = await readSubscriptions();
    expect(reverse.length).toBe(5);
    for (const info of reverse) {
      expect(leaks(info, secrets()), info).toEqual([]);
      expect(info).not.toMatch(/^postgres:\/\/postgres[:@]/);
      replicationPasswords.push(decodeURIComponent(/:\/\/[^:]+:([^@]+)@/.exec(info)![1]!));
    }
    await run(['cutover', '-m', on.manifestFile, '--complete', '--yes', '--json'], on.env, 0);
    expect(await readSubscriptions()).toEqual([]);
    await run(['status', '-m', on.manifestFile, '--json'], on.env, 0);
    await run(['verify', '-m', on.manifestFile, '--checksums'], on.env, 0);

    // 4. A dozen failures, each with --verbose (stack traces and causes included).
    const bad = (over: NodeJS.ProcessEnv) => ({ ...on.env, ...over });
    const wrongSource = `postgres://postgres:${encodeURIComponent(WRONG_PW)}@127.0.0.1:${a.port}/${on.sourceDb}`;
    const failures: Array<[string[], NodeJS.ProcessEnv, number]> = [
      [['plan', '-m', on.manifestFile, '-o', join(on.dir, 'x.json'), '--verbose'], bad({ CLOUDPHONE_CORE_URL: wrongSource }), 2],
      [['plan', '-m', on.manifestFile, '-o', join(on.dir, 'x.json'), '--verbose'], bad({ CLOUDPHONE_CORE_URL: `postgres://postgres:${WRONG_PW}@127.0.0.1:${a.port}/x` }), 2],
      [['plan', '-m', on.manifestFile, '-o', join(on.dir, 'x.json'), '--verbose', '--json'], bad({ CLOUDPHONE_CORE_URL: `host=127.0.0.1 password='${WRONG_PW}` }), 2],
      [['plan', '-m', on.manifestFile, '-o', join(on.dir, 'x.json'), '--verbose'], bad({ CLOUDPHONE_CORE_URL: `postgres://postgres:${encodeURIComponent(WRONG_PW)}@127.0.0.1:1/x` }), 3],
      // A password a server rejects is bad input (exit 2), named once, as `plan` says it.
      [['status', '-m', on.manifestFile, '--verbose', '--json'], bad({ SPLIT_CONTROL_URL: dsn(a, WRONG_PW, `${on.prefix}control`) }), 2],
      [['verify', '-m', on.manifestFile, '--verbose'], bad({ BILLING_PG_URL: queryPasswordUrl(b, WRONG_PW) }), 2],
      [['init', '--from', dsn(a, WRONG_PW, on.sourceDb), '-o', '-', '--verbose'], on.env, 2],
      [['init', '--from', `postgres://postgres:${WRONG_PW}@127.0.0.1:${a.port}/x`, '-o', '-', '--verbose'], on.env, 2],
      [['apply', join(on.dir, 'corrupt.plan.json'), '--yes', '--verbose'], on.env, 2],
      [['plan', '-m', join(on.dir, 'default.yaml'), '--verbose'], bad({ DEFAULT_PW_VAR: '' }), 2],
      [['plan', '-m', join(on.dir, 'literal.yaml'), '--verbose', '--json'], on.env, 2],
      [['retention', 'prune', '-m', on.manifestFile, '--yes', '--verbose'], bad({ SPLIT_CONTROL_URL: `postgres://postgres:${encodeURIComponent(WRONG_PW)}@127.0.0.1:1/c` }), 3],
      [['snapshot', '-m', on.manifestFile, '-o', join(on.dir, 's.json'), '--verbose'], bad({ CLOUDPHONE_CORE_URL: `${wrongSource}?sslmode=disable&password=${encodeURIComponent(WRONG_PW)}` }), 2],
    ];
    const manifest = await readFile(on.manifestFile, 'utf8');
    await writeFile(join(on.dir, 'default.yaml'), manifest.replace('${USER_DB_PASSWORD}', `"\${DEFAULT_PW_VAR:-${DEFAULT_PW}}"`));
    await writeFile(join(on.dir, 'literal.yaml'), manifest.replace('${CLOUDPHONE_CORE_URL}', `postgres://postgres:${LITERAL_PW}@127.0.0.1:${a.port}/x`));
    const plan = JSON.parse(await readFile(on.planFile, 'utf8')) as { steps: Array<Record<string, unknown>> };
    plan.steps[1]!.sql = `ALTER ROLE x PASSWORD '${WRONG_PW}'`;
    await writeFile(join(on.dir, 'corrupt.plan.json'), JSON.stringify(plan));
    for (const [args, env, code] of failures) {
      const r = await run(args, env);
      expect(r.code, `${args[0]}\n${r.stderr}`).toBe(code);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    // The backup pruned last (verify has nothing to compare with after it).
    const later = new Date(Date.now() + 8 * DAY).toISOString();
    const pruned = await run(['retention', 'prune', '-m', on.manifestFile, '--yes', '--now', later, '--verbose'], on.env, 0);
    expect(pruned.stdout + pruned.stderr).toMatch(/backups/);

    // What was printed, every file written, the journal, the server logs, pg_subscription.
    const all = secrets();
    expect(leaks(printed.join('\n'), [...all, ...replicationPasswords])).toEqual([]);
    for (const dir of [initDir, ...fixtures.map((f) => f.dir)]) {
      for (const file of await filesUnder(dir)) {
        if (file.endsWith('corrupt.plan.json') || file.endsWith('default.yaml') || file.endsWith('literal.yaml')) continue;
        expect(leaks(await readFile(file, 'latin1'), all), file).toEqual([]);
      }
    }
    for (const fx of fixtures) expect(leaks(await journalText(fx), all)).toEqual([]);
    const logs: string[] = [];
    for (const s of [a, b]) {
      const text = await s.log();
      logs.push(text);
      expect(text).toMatch(/statement: /);
      expect(leaks(text, [...all, ...replicationPasswords])).toEqual([]);
      // The services' password verifiers neither (what an offline guess starts from): their ALTER ROLE runs unlogged.
      for (const role of new Set(fixtures.flatMap((f) => f.services.map((x) => x.role)))) expect(text).not.toMatch(new RegExp(`ALTER ROLE "?${role}"? LOGIN PASSWORD`));
    }
    // While the statements around it are logged: the role's CREATE ROLE.
    expect(logs.join('\n')).toMatch(/CREATE ROLE "?\w+_svc"? LOGIN/);
    // Each role logs in with its password (SCRAM on A; on B the server checks it against the verifier).
    for (const [key, s] of [['billing', b], ['user', a]] as const) {
      const svc = fixtures[1]!.service(key);
      const login = new pg.Client({ host: s.socketDir, port: s.port, user: svc.role, password: svc.password, database: svc.database });
      await login.connect();
      expect((await login.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe(svc.role);
      await login.end();
    }
  }, 900_000);
});
