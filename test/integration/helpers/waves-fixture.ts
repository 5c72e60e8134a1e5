import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { query, servers, uniquePrefix, withDatabase } from '../../harness/servers.js';
import { runCli, type CliResult } from './cli.js';
import { dropTestDatabases } from './drop-databases.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * A small source that stays in use after its splits: `accounts` and `audit` stay
 * (audit references invoices: a foreign key from a remaining table to a moved one);
 * billing moves `invoices` (its id sequence is owned by it) and the partitioned
 * `invoice_lines` (two partitions) with the view `invoice_totals` over them; ops
 * moves `events`. Each has a comment before any split, so that restoring it shows.
 */
const SCHEMA = `
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE invoices (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), total numeric NOT NULL);
COMMENT ON TABLE invoices IS 'one row per invoice sent';
CREATE TABLE invoice_lines (
  invoice_id bigint NOT NULL REFERENCES invoices (id),
  line int NOT NULL,
  amount numeric NOT NULL,
  PRIMARY KEY (invoice_id, line)
) PARTITION BY RANGE (invoice_id);
CREATE TABLE invoice_lines_low PARTITION OF invoice_lines FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE invoice_lines_high PARTITION OF invoice_lines FOR VALUES FROM (1000) TO (MAXVALUE);
CREATE VIEW invoice_totals AS SELECT invoice_id, sum(amount) AS amount FROM invoice_lines GROUP BY invoice_id;
CREATE TABLE audit (id serial PRIMARY KEY, invoice_id bigint REFERENCES invoices (id), note text NOT NULL);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now());
COMMENT ON TABLE events IS 'what happened';
INSERT INTO accounts (name) SELECT 'account ' || g FROM generate_series(1, 20) g;
INSERT INTO invoices (account_id, total) SELECT 1 + g % 20, g * 10 FROM generate_series(1, 1500) g;
INSERT INTO invoice_lines (invoice_id, line, amount) SELECT i, l, i + l FROM generate_series(1, 1500) i, generate_series(1, 2) l;
INSERT INTO audit (invoice_id, note) SELECT g, 'sent' FROM generate_series(1, 50) g;
INSERT INTO events (kind) SELECT 'boot' FROM generate_series(1, 30);
`;

export const BILLING_TABLES = ['public.invoices', 'public.invoice_lines', 'public.invoice_lines_low', 'public.invoice_lines_high'];
export const OPS_TABLES = ['public.events'];

/** One split of the waves source: its manifest and the CLI on it. */
export interface WaveSplit {
  name: string;
  manifestFile: string;
  database: string;
  role: string;
  cli(verb: string, ...args: string[]): Promise<CliResult>;
}

export interface WavesFixture {
  prefix: string;
  sourceServer: string;
  sourceDb: string;
  sourceUrl: string;
  env: NodeJS.ProcessEnv;
  dir: string;
  /** billing: invoices and invoice_lines (+ partitions, the view); ops: events. */
  billing: WaveSplit;
  ops: WaveSplit;
  cleanup(): Promise<void>;
}

/**
 * The waves source and two manifests splitting it: `billing` and `ops`, each moving
 * its own tables into its own database, neither retiring the source. Extra manifest
 * keys go through `edit(doc, which)`.
 */
export async function wavesFixture(
  opts: { server?: string; edit?: (doc: Record<string, unknown>, which: 'billing' | 'ops') => void } = {},
): Promise<WavesFixture> {
  const prefix = uniquePrefix();
  const sourceServer = withDatabase(opts.server ?? servers().main, 'postgres');
  const sourceDb = `${prefix}core`;
  const sourceUrl = withDatabase(sourceServer, sourceDb);
  await query(sourceServer, `CREATE DATABASE ${q(sourceDb)}`);
  await query(sourceUrl, SCHEMA);
  const dir = await mkdtemp(join(tmpdir(), 'cps-waves-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    CORE_URL: sourceUrl,
    CONTROL_URL: withDatabase(sourceServer, `${prefix}control`),
    BILLING_PW: `pw-billing-${prefix}`,
    OPS_PW: `pw-ops-${prefix}`,
  };
  const make = async (which: 'billing' | 'ops', tables: string[], ignore: string[]): Promise<WaveSplit> => {
    const name = `${prefix}${which}`;
    const database = `${prefix}${which}_db`;
    const role = `${prefix}${which}_svc`;
    const doc: Record<string, unknown> = {
      version: 1,
      name,
      source: { url: '${CORE_URL}', schemas: ['public'] },
      control: { url: '${CONTROL_URL}' },
      retention: { days: 7 },
      services: { [`${which}-service`]: { database, role: { name: role, password: `\${${which.toUpperCase()}_PW}` }, tables } },
      ignore,
    };
    opts.edit?.(doc, which);
    const manifestFile = join(dir, `${which}.yaml`);
    await writeFile(manifestFile, stringify(doc));
    return { name, manifestFile, database, role, cli: (verb, ...args) => runCli([verb, '-m', manifestFile, ...args], env) };
  };
  const billing = await make('billing', ['invoices', 'invoice_lines'], ['accounts', 'audit', 'events']);
  const ops = await make('ops', ['events'], ['accounts', 'audit', 'invoices', 'invoice_lines', 'invoice_totals']);
  return {
    prefix,
    sourceServer,
    sourceDb,
    sourceUrl,
    env,
    dir,
    billing,
    ops,
    async cleanup() {
      await dropTestDatabases([sourceDb, `${prefix}control`, billing.database, ops.database].map((database) => ({ server: sourceServer, database })));
      for (const role of [billing.role, ops.role]) await query(sourceServer, `DROP ROLE IF EXISTS ${q(role)}`).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A `wavesFixture` edit: ops moves invoices too (billing moves it already), so the two splits share a table. */
export function opsAlsoMovesInvoices(doc: Record<string, unknown>, which: 'billing' | 'ops'): void {
  if (which !== 'ops') return;
  const services = doc.services as Record<string, Record<string, unknown>>;
  services['ops-service']!.tables = ['events', 'invoices'];
  doc.ignore = (doc.ignore as string[]).filter((t) => t !== 'invoices');
}

/** Comment of each table of the source (`schema.name` → comment or null). */
export async function tableComments(url: string, tables: readonly string[]): Promise<Record<string, string | null>> {
  const rows = await query<{ key: string; comment: string | null }>(
    url,
    `SELECT k AS key, obj_description(to_regclass(k), 'pg_class') AS comment FROM unnest($1::text[]) AS k`,
    [tables],
  );
  return Object.fromEntries(rows.map((r) => [r.key, r.comment]));
}

/** The error a single-statement write gets (null: it went through). */
export async function writeError(url: string, sql: string): Promise<string | null> {
  try {
    await query(url, sql);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Keeps writing to the tables that stay (a new account, an audit row referencing an
 * invoice, an update of an account) until stopped; counts the writes and keeps every
 * error. One session, one statement at a time, as a service would.
 */
export class StayingWriter {
  writes = 0;
  errors: string[] = [];
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly client: pg.Client;

  constructor(url: string) {
    this.client = new pg.Client({ connectionString: url, application_name: 'staying-writer' });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.client.query(`INSERT INTO accounts (name) VALUES ('writer ' || $1)`, [this.writes]);
          await this.client.query(`INSERT INTO audit (invoice_id, note) VALUES (1 + $1::int % 1500, 'writer')`, [this.writes]);
          await this.client.query(`UPDATE accounts SET name = name || '.' WHERE id = 1`);
          this.writes++;
        } catch (err) {
          this.errors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  /** Waits until `n` more writes went through (or an error happened). */
  async more(n: number): Promise<void> {
    const target = this.writes + n;
    while (this.writes < target && this.errors.length === 0) await new Promise((r) => setTimeout(r, 10));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.client.end();
  }
}
