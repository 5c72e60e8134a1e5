import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { query, servers, uniquePrefix, withDatabase } from '../../harness/servers.js';
import { SAMPLE_SERVICES, loadSample, sampleManifest, writeServicesTree } from '../../fixtures/index.js';
import type { Plan } from '../../../src/plan/model.js';
import { runCli, type CliResult } from './cli.js';
import { dropTestDatabases } from './drop-databases.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** One service of a fixture's split, as the manifest places it. */
export interface FixtureService {
  name: string;
  /** The sample's key: `cloudphone_<key>`. */
  key: string;
  database: string;
  /** Server name in the manifest ("source" or a `servers:` entry). */
  server: string;
  /** Superuser URL to database `postgres` of that server. */
  serverUrl: string;
  /** Superuser URL to the service's new database. */
  url: string;
  role: string;
  password: string;
  /** Environment variable holding the password. */
  passwordVar: string;
}

export interface SplitFixtureOptions {
  /** Server of the source database (superuser URL to `postgres`); default servers().main. */
  source?: string;
  /** Put every service on this server (named `target` in the manifest); default: the source's server. */
  targets?: string;
  /** Put billing-service on this server (named `billing-pg`). */
  billing?: string;
  /** A database to clone the source from (see sampleTemplate); default: load the sample at `scale`. */
  template?: string;
  scale?: number;
  /** Write the services tree and the manifest's `config` entries. */
  withConfig?: boolean;
  /** Passwords by service key (default `pw-<key>-<random>`). */
  passwords?: Record<string, string>;
  /** Edits the parsed manifest before it is written (names, servers, extra keys...). */
  edit?: (manifest: Record<string, unknown>) => void;
  /**
   * The prefix of every name (default: a fresh uniquePrefix()). Fixtures made one after
   * another, each cleaned up before the next, may share one: same manifest, same plan.
   */
  prefix?: string;
}

/**
 * A split of the sample database ready to plan and apply: a source database with the
 * sample in it, a manifest (and optionally the services tree) in a temporary folder,
 * and the environment the CLI needs. Every name is prefixed with a fresh uniquePrefix().
 */
export interface SplitFixture {
  prefix: string;
  /** The split's name. */
  name: string;
  dir: string;
  manifestFile: string;
  planFile: string;
  /** The CLI's whole environment (process.env plus the manifest's variables, NO_COLOR). */
  env: NodeJS.ProcessEnv;
  sourceServer: string;
  sourceDb: string;
  sourceUrl: string;
  controlUrl: string;
  services: FixtureService[];
  service(key: string): FixtureService;
  /** Runs the CLI in-process with `-m <manifest>` added after the verb. */
  cli(verb: string, ...args: string[]): Promise<CliResult>;
  /** `plan -o <planFile>`, asserting exit 0; returns the plan. */
  plan(): Promise<Plan>;
  readPlan(): Promise<Plan>;
  cleanup(): Promise<void>;
}

/**
 * Keeps only the `keep` services in a parsed sample manifest (use in `edit`): the others'
 * tables stay in the source (ignored), and the kept ones copy and denormalize nothing.
 * A split of fewer steps, for tests whose claim is not about the sample's size.
 */
export function keepServices(doc: Record<string, unknown>, keep: readonly string[]): void {
  const services = doc.services as Record<string, Record<string, unknown>>;
  const ignore = (doc.ignore as string[] | undefined) ?? [];
  for (const [name, spec] of Object.entries(services)) {
    if (keep.includes(name)) continue;
    ignore.push(...((spec.tables as string[] | undefined) ?? []));
    delete services[name];
  }
  for (const name of keep) {
    const spec = services[name]!;
    spec.copies = [];
    spec.denormalize = [];
  }
  doc.ignore = ignore;
}

/**
 * A manifest edit: only `keep` of the sample's services move (keepServices), and the source
 * stays in use (`source.retire: false`: the moved tables are kept there as backups and
 * prune drops them by name).
 */
export function keepingSource(keep: readonly string[]): (doc: Record<string, unknown>) => void {
  return (doc) => {
    keepServices(doc, keep);
    (doc.source as Record<string, unknown>).retire = false;
  };
}

/**
 * Loads the sample once into a database of `server` that later fixtures clone with
 * `CREATE DATABASE ... TEMPLATE` (a file copy: much faster than loading again).
 */
export async function sampleTemplate(server: string, scale = 1): Promise<string> {
  const name = `${uniquePrefix()}sample_s${String(scale).replace('.', '_')}`;
  await query(server, `CREATE DATABASE ${q(name)}`);
  await loadSample(withDatabase(server, name), { scale });
  return name;
}

/** Drops a database made by sampleTemplate. */
export async function dropTemplate(server: string, name: string): Promise<void> {
  await query(server, `DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`).catch(() => undefined);
}

function base(url: string): string {
  return withDatabase(url, 'postgres');
}

export async function splitFixture(opts: SplitFixtureOptions = {}): Promise<SplitFixture> {
  const prefix = opts.prefix ?? uniquePrefix();
  const sourceServer = base(opts.source ?? servers().main);
  const sourceDb = `${prefix}cloudphone_core`;
  const sourceUrl = withDatabase(sourceServer, sourceDb);
  if (opts.template) {
    await query(sourceServer, `CREATE DATABASE ${q(sourceDb)} TEMPLATE ${q(opts.template)}`);
  } else {
    await query(sourceServer, `CREATE DATABASE ${q(sourceDb)}`);
    await loadSample(sourceUrl, { scale: opts.scale ?? 1 });
  }
  const dir = await mkdtemp(join(tmpdir(), 'cps-apply-'));
  const controlUrl = withDatabase(sourceServer, `${prefix}control`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    CLOUDPHONE_CORE_URL: sourceUrl,
    SPLIT_CONTROL_URL: controlUrl,
  };
  const doc = parse(sampleManifest({ prefix, withConfig: opts.withConfig, secondServer: Boolean(opts.billing) })) as Record<string, unknown>;
  const serverUrls: Record<string, string> = { source: sourceServer };
  const manifestServers: Record<string, string> = {};
  if (opts.targets) {
    manifestServers.target = '${TARGET_PG_URL}';
    env.TARGET_PG_URL = base(opts.targets);
    serverUrls.target = base(opts.targets);
  }
  if (opts.billing) {
    manifestServers['billing-pg'] = '${BILLING_PG_URL}';
    env.BILLING_PG_URL = base(opts.billing);
    serverUrls['billing-pg'] = base(opts.billing);
  }
  if (Object.keys(manifestServers).length > 0) doc.servers = manifestServers;
  const specs = doc.services as Record<string, Record<string, unknown>>;
  if (opts.targets) for (const spec of Object.values(specs)) spec.server ??= 'target';
  opts.edit?.(doc);
  const services: FixtureService[] = [];
  for (const s of SAMPLE_SERVICES) {
    const spec = specs[s.name];
    if (!spec) continue;
    const server = (spec.server as string | undefined) ?? 'source';
    const passwordVar = `${s.key.toUpperCase()}_DB_PASSWORD`;
    const password = opts.passwords?.[s.key] ?? `pw-${s.key}-${prefix}`;
    env[passwordVar] = password;
    const database = spec.database as string;
    services.push({
      name: s.name,
      key: s.key,
      database,
      server,
      serverUrl: serverUrls[server]!,
      url: withDatabase(serverUrls[server]!, database),
      role: (spec.role as { name: string }).name,
      password,
      passwordVar,
    });
  }
  if (opts.withConfig) await writeServicesTree(dir, { sourceUrl });
  const manifestFile = join(dir, 'split.yaml');
  await writeFile(manifestFile, stringify(doc, { lineWidth: 0 }));
  const planFile = join(dir, 'plans', 'split.plan.json');
  const name = doc.name as string;

  const fixture: SplitFixture = {
    prefix,
    name,
    dir,
    manifestFile,
    planFile,
    env,
    sourceServer,
    sourceDb,
    sourceUrl,
    controlUrl,
    services,
    service(key) {
      const s = services.find((x) => x.key === key || x.name === key);
      if (!s) throw new Error(`no service ${key}`);
      return s;
    },
    cli: (verb, ...args) => runCli([verb, '-m', manifestFile, ...args], env),
    async plan() {
      const r = await runCli(['plan', '-m', manifestFile, '-o', planFile], env);
      if (r.code !== 0) throw new Error(`plan exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
      return fixture.readPlan();
    },
    async readPlan() {
      return JSON.parse(await readFile(planFile, 'utf8')) as Plan;
    },
    async cleanup() {
      const all = new Set([sourceServer, ...Object.values(serverUrls)]);
      await dropTestDatabases([
        { server: sourceServer, database: sourceDb },
        { server: sourceServer, database: `${prefix}control` },
        ...services.map((s) => ({ server: s.serverUrl, database: s.database })),
      ]);
      for (const server of all) {
        for (const s of services) await query(server, `DROP ROLE IF EXISTS ${q(s.role)}`).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

