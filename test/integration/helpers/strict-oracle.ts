import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Plan } from '../../../src/plan/model.js';
import { query, withDatabase } from '../../harness/servers.js';
import { join } from 'node:path';
import { dumpBlocks, type DumpBlock } from './schema-dump.js';

const run = promisify(execFile);
/** The client programs of PostgreSQL 15 (the system's); an 18 server needs the harness's `pg18Client()`. */
export const PG15_CLIENT = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * `pg_dump --schema-only` WITH privileges and comments (owners left out: the service
 * databases are owned by whoever the split made their owner).
 */
export async function fullSchemaDump(url: string, client = PG15_CLIENT): Promise<string> {
  const { stdout } = await run(join(client, 'pg_dump'), ['--schema-only', '--no-owner', '--quote-all-identifiers', '-d', url], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/**
 * The reference: the source after one `pg_dump --schema-only | psql` round trip into a new
 * database `name` of the same server, so that what pg_dump itself changes is not blamed
 * on the split. Returns its URL.
 */
export async function roundTrip(sourceUrl: string, name: string, client = PG15_CLIENT): Promise<string> {
  return restoreSchema(sourceUrl, name, await dumpSchema(sourceUrl, client), client);
}

/** The first half of roundTrip: `pg_dump --schema-only` of the source, as text. */
export async function dumpSchema(sourceUrl: string, client = PG15_CLIENT): Promise<string> {
  const { stdout } = await run(join(client, 'pg_dump'), ['--schema-only', '-d', sourceUrl], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/**
 * The second half of roundTrip: `psql` of a dumpSchema text into a new database `name` of
 * the source's server (the source may change meanwhile: the dump is what it was). Returns its URL.
 */
export async function restoreSchema(sourceUrl: string, name: string, dump: string, client = PG15_CLIENT): Promise<string> {
  const server = withDatabase(sourceUrl, 'postgres');
  await query(server, `CREATE DATABASE "${name}"`);
  const url = withDatabase(server, name);
  const stdout = dump;
  await new Promise<void>((resolve, reject) => {
    const child = execFile(join(client, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], { maxBuffer: 64 * 1024 * 1024 }, (err, _out, stderr) =>
      err ? reject(new Error(`psql of the round trip failed: ${stderr}`, { cause: err })) : resolve(),
    );
    child.stdin!.end(stdout);
  });
  return url;
}

/** The tables (`schema.name`, relkind r and p) of a database and, per table, all its partitions (any depth). */
export async function tablesAndPartitions(url: string): Promise<{ tables: Set<string>; partitions: Map<string, string[]> }> {
  const rels = await query<{ t: string }>(
    url,
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
  );
  const edges = await query<{ parent: string; child: string }>(
    url,
    `SELECT pn.nspname || '.' || p.relname AS parent, cn.nspname || '.' || c.relname AS child
       FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')`,
  );
  const children = new Map<string, string[]>();
  for (const e of edges) children.set(e.parent, [...(children.get(e.parent) ?? []), e.child]);
  const partitions = new Map<string, string[]>();
  const all = (t: string): string[] => (children.get(t) ?? []).flatMap((c) => [c, ...all(c)]);
  for (const { t } of rels) partitions.set(t, all(t));
  return { tables: new Set(rels.map((r) => r.t)), partitions };
}

/** A dump block with the table it belongs to, comments and privileges of tables and columns included. */
function owningTable(block: DumpBlock, schema: string, tables: Set<string>): string | null {
  if (block.table) return block.table;
  if (block.type !== 'ACL' && block.type !== 'COMMENT') return null;
  const name = block.key.slice(`${block.type} ${schema} `.length);
  const m = /^(?:TABLE|COLUMN) (.+)$/.exec(name);
  if (!m) return null;
  // `"t"` or, for a column, `"t"."c"` (pg_dump quotes every identifier here).
  const parts = [...m[1]!.matchAll(/"((?:[^"]|"")*)"/g)].map((p) => p[1]!.replaceAll('""', '"'));
  const key = parts.length > 0 ? `${schema}.${parts[0]}` : `${schema}.${m[1]!}`;
  return tables.has(key) ? key : null;
}

/** The name an object is known by in plan warnings and in the manifest: `schema.name` without arguments. */
function objectName(block: DumpBlock, schema: string): string {
  const name = block.key
    .slice(`${block.type} ${schema} `.length)
    .replace(/^(?:FUNCTION|AGGREGATE|PROCEDURE|TYPE|DOMAIN|SEQUENCE|VIEW|SCHEMA|EXTENSION|TABLE|MATERIALIZED VIEW) /, '')
    .replace(/\(.*$/s, '')
    .replace(/^"((?:[^"]|"")*)"$/, (_m, n: string) => n.replaceAll('""', '"'));
  return `${schema === '-' ? '' : `${schema}.`}${name}`;
}

export interface OracleInput {
  /** `fullSchemaDump` of the reference (the round-tripped source). */
  reference: string;
  referenceTables: { tables: Set<string>; partitions: Map<string, string[]> };
  /** `fullSchemaDump` of each service database, by database name. */
  targets: Map<string, string>;
  plan: Plan;
  /** The manifest's ignore entries: what is deliberately left in the source. */
  ignore: string[];
}

/**
 * The strict oracle. Returns every difference (empty when the split is exact):
 * - every object in a service database exists in the reference with the same definition,
 *   privileges and comments (less the denormalized columns the manifest adds);
 * - every object of every table the service owns or copies (its partitions included, in
 *   whatever schema) is in the service database, less the dropped cross-service foreign keys;
 * - every other object of the reference (function, aggregate, procedure, type, sequence,
 *   view, extension, their comments and privileges) is in at least one service database,
 *   or is named by the plan's warnings or the manifest's `ignore` as left behind;
 * - a schema a service database has carries the reference's comment and privileges.
 */
export function oracleDifferences(input: OracleInput): string[] {
  const { plan, referenceTables } = input;
  const reference = dumpBlocks(input.reference);
  const schemaOf = (b: DumpBlock): string => b.key.split(' ').slice(b.type.split(' ').length)[0]!;
  const problems: string[] = [];
  const seenAnywhere = new Set<string>();
  for (const service of plan.services) {
    const dumpText = input.targets.get(service.database);
    if (dumpText === undefined) {
      problems.push(`no dump of ${service.database}`);
      continue;
    }
    const target = dumpBlocks(dumpText);
    const owned = new Set<string>();
    for (const t of [...service.tables, ...service.copies]) {
      owned.add(t.name);
      for (const p of referenceTables.partitions.get(t.name) ?? []) owned.add(p);
    }
    const dropped = new Set(service.droppedForeignKeys.map((f) => `${f.table} ${f.constraint}`));
    const extra = new Map<string, string[]>();
    for (const d of service.denormalize) extra.set(d.table, [...(extra.get(d.table) ?? []), d.column]);
    for (const [key, block] of target) {
      seenAnywhere.add(key);
      const src = reference.get(key);
      if (!src) {
        problems.push(`only in ${service.database}: ${key}\n${block.body}`);
        continue;
      }
      const cols = block.type === 'TABLE' && block.table ? extra.get(block.table) ?? [] : [];
      const body = cols.length > 0 ? block.body.split('\n').filter((l) => !cols.some((c) => l.startsWith(`    "${c}" `))).join('\n') : block.body;
      if (body !== src.body) problems.push(`differs in ${service.database}: ${key}\n--- reference\n${src.body}\n--- target\n${block.body}`);
    }
    // A schema the service database has must have the reference's comment and privileges.
    const schemas = new Set([...target.values()].filter((b) => b.type === 'SCHEMA').map((b) => b.key.slice('SCHEMA - '.length)));
    for (const [key, block] of reference) {
      const onSchema = /^(?:COMMENT|ACL) - SCHEMA (.+)$/.exec(key);
      if (onSchema && schemas.has(onSchema[1]!.replace(/^"((?:[^"]|"")*)"$/, (_m, n: string) => n.replaceAll('""', '"'))) && !target.has(key)) {
        problems.push(`missing in ${service.database}: ${key}\n${block.body}`);
      }
    }
    for (const [key, block] of reference) {
      const table = owningTable(block, schemaOf(block), referenceTables.tables);
      if (!table || !owned.has(table) || target.has(key)) continue;
      if (block.type === 'FK CONSTRAINT') {
        const name = /ADD CONSTRAINT "((?:[^"]|"")*)"/.exec(block.body)?.[1]?.replaceAll('""', '"');
        if (name && dropped.has(`${table} ${name}`)) continue;
      }
      problems.push(`missing in ${service.database}: ${key}\n${block.body}`);
    }
  }
  // What the plan says stays in the source: its warnings, and its list of objects left behind when it has one.
  const leftBehind = ((plan as unknown as { leftBehind?: Array<{ name: string }> }).leftBehind ?? []).map((o) => o.name.replace(/\(.*$/s, ''));
  const warnings = [...plan.warnings, ...leftBehind].join('\n');
  const ignored = new Set(input.ignore.map((i) => (i.includes('.') ? i : `public.${i}`)));
  for (const [key, block] of reference) {
    if (seenAnywhere.has(key)) continue;
    const schema = schemaOf(block);
    if (owningTable(block, schema, referenceTables.tables)) continue; // a table's: checked per service above
    // A schema goes where its objects go (an empty one, like GitLab's gitlab_partitions_dynamic,
    // need not go anywhere); its comment and privileges are checked with it above.
    if (block.type === 'SCHEMA' || /^(?:COMMENT|ACL) - SCHEMA /.test(key)) continue;
    const name = objectName(block, schema);
    const bare = name.slice(name.indexOf('.') + 1);
    if (ignored.has(name) || warnings.includes(name) || (schema === 'public' && new RegExp(`\\b${bare}\\b`).test(warnings))) continue;
    problems.push(`in no service database and not named as left behind: ${key}\n${block.body}`);
  }
  return problems;
}
