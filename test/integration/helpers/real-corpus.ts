import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { query, uniquePrefix, withDatabase } from '../../harness/servers.js';
import type { Plan } from '../../../src/plan/model.js';
import { runCli, type CliResult } from './cli.js';
import { dropTestDatabases } from './drop-databases.js';

/** The schemas of real applications in test/fixtures/real (see its README for sources and licenses). */
export type CorpusName = 'gitlab' | 'pagila' | 'services-core' | 'openstreetmap' | 'slack-clone' | 'generated';

const REAL = fileURLToPath(new URL('../../fixtures/real/', import.meta.url));

/** Roles each corpus grants privileges to: they must exist on every server it is loaded into. */
const CORPUS_ROLES: Record<CorpusName, string[]> = {
  gitlab: [],
  pagila: [],
  'services-core': ['scoped_user', 'platform_user', 'postgrest', 'admin', 'anonymous'],
  openstreetmap: [],
  'slack-clone': ['authenticated', 'anon', 'supabase_auth_admin'],
  generated: [],
};

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Runs a SQL script (a pg_dump file, several statements) on its own connection. */
async function runScript(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates the corpus's roles on a server unless they exist (tests running at once may race: both succeed). */
export async function ensureCorpusRoles(serverUrl: string, corpus: CorpusName): Promise<void> {
  for (const role of CORPUS_ROLES[corpus]) {
    await query(
      serverUrl,
      `DO $$ BEGIN CREATE ROLE ${q(role)} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
    );
  }
}

/** Creates database `name` on `serverUrl` holding the corpus's schema and rows; returns its URL. */
export async function loadCorpus(serverUrl: string, corpus: CorpusName, name: string): Promise<string> {
  await ensureCorpusRoles(serverUrl, corpus);
  await query(serverUrl, `CREATE DATABASE ${q(name)}`);
  const url = withDatabase(serverUrl, name);
  const file = corpus === 'gitlab' || corpus === 'openstreetmap' ? 'structure.sql' : 'schema.sql';
  await runScript(url, await readFile(join(REAL, corpus, file), 'utf8'));
  if (corpus !== 'generated') await runScript(url, await readFile(join(REAL, corpus, 'data.sql'), 'utf8'));
  return url;
}

/** One service database of a corpus split. */
export interface CorpusService {
  name: string;
  database: string;
  /** Superuser URL to the service's database. */
  url: string;
}

/** A corpus loaded into a source database, with its manifest rewritten to unique names. */
export interface CorpusSplit {
  corpus: CorpusName;
  prefix: string;
  sourceUrl: string;
  controlUrl: string;
  manifestFile: string;
  planFile: string;
  env: NodeJS.ProcessEnv;
  services: CorpusService[];
  /** The manifest's `ignore` entries. */
  ignore: string[];
  cli(verb: string, ...args: string[]): Promise<CliResult>;
  readPlan(): Promise<Plan>;
  cleanup(): Promise<void>;
}

export interface CorpusSplitOptions {
  /** Server of the source (superuser URL). */
  source: string;
  /** Server of every service database; default: the source's. */
  targets?: string;
}

/** Loads a corpus and writes its manifest (every database name prefixed) into a temporary folder. */
export async function corpusSplit(corpus: CorpusName, opts: CorpusSplitOptions): Promise<CorpusSplit> {
  const prefix = uniquePrefix();
  const sourceServer = withDatabase(opts.source, 'postgres');
  const targetServer = withDatabase(opts.targets ?? opts.source, 'postgres');
  const sourceUrl = await loadCorpus(sourceServer, corpus, `${prefix}src`);
  if (opts.targets) await ensureCorpusRoles(targetServer, corpus);
  const controlUrl = withDatabase(sourceServer, `${prefix}control`);
  const doc = parse(await readFile(join(REAL, corpus, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
  doc.name = `${prefix}${String(doc.name)}`.replaceAll('_', '-');
  const specs = doc.services as Record<string, Record<string, unknown>>;
  const services: CorpusService[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    spec.database = `${prefix}${String(spec.database)}`;
    if (opts.targets) spec.server = 'target';
    services.push({ name, database: spec.database as string, url: withDatabase(targetServer, spec.database as string) });
  }
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', SOURCE_URL: sourceUrl, CONTROL_URL: controlUrl };
  if (opts.targets) {
    doc.servers = { target: '${TARGET_URL}' };
    env.TARGET_URL = targetServer;
  }
  const dir = await mkdtemp(join(tmpdir(), `cps-real-${corpus}-`));
  const manifestFile = join(dir, 'split.yaml');
  await writeFile(manifestFile, stringify(doc, { lineWidth: 0 }));
  const planFile = join(dir, 'split.plan.json');
  return {
    corpus,
    prefix,
    sourceUrl,
    controlUrl,
    manifestFile,
    planFile,
    env,
    services,
    ignore: (doc.ignore as string[] | undefined) ?? [],
    cli: (verb, ...args) => runCli([verb, '-m', manifestFile, ...args], env),
    readPlan: async () => JSON.parse(await readFile(planFile, 'utf8')) as Plan,
    async cleanup() {
      await dropTestDatabases([
        ...services.map((s) => ({ server: targetServer, database: s.database })),
        { server: sourceServer, database: `${prefix}src` },
        { server: sourceServer, database: `${prefix}control` },
      ]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What each command of a split printed, for the failure messages. */
function show(r: CliResult): string {
  return `exit ${r.code}\n${r.stderr}\n${r.stdout}`;
}

/**
 * `plan`, `apply --yes`, `verify --checksums`: returns each result and the plan; the caller
 * asserts on the exit codes (so that a failure shows everything the tool said).
 */
export async function planApplyVerify(split: CorpusSplit): Promise<{ plan: CliResult; apply: CliResult; verify: CliResult; planData: Plan | null; text: string }> {
  const plan = await split.cli('plan', '-o', split.planFile);
  let apply: CliResult = { code: -1, stdout: '', stderr: 'not run: plan failed' };
  let verify: CliResult = { code: -1, stdout: '', stderr: 'not run: apply failed' };
  let planData: Plan | null = null;
  if (plan.code === 0) {
    planData = await split.readPlan();
    apply = await split.cli('apply', split.planFile, '--yes', '--jobs', '2');
    if (apply.code === 0) verify = await split.cli('verify', '--checksums');
  }
  const text = `--- plan\n${show(plan)}\n--- apply\n${show(apply)}\n--- verify\n${show(verify)}`;
  return { plan, apply, verify, planData, text };
}

