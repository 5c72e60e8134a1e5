import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Plan } from '../../../src/plan/model.js';

const run = promisify(execFile);

export const PG15_DUMP = `${process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin'}/pg_dump`;

/** One object of a pg_dump script: its `-- Name: ...; Type: ...; Schema: ...` header and its statements. */
export interface DumpBlock {
  key: string;
  type: string;
  body: string;
  /** The table the statement is about (`public.users`), or null for types, functions, extensions... */
  table: string | null;
}

/** `pg_dump --schema-only --no-owner --no-privileges` of one database, as text. */
export async function schemaDump(url: string, pgDump = PG15_DUMP): Promise<string> {
  const { stdout } = await run(pgDump, ['--schema-only', '--no-owner', '--no-privileges', '--quote-all-identifiers', '-d', url], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

const QUOTED = '"(?:[^"]|"")*"';
const TABLE_OF = new RegExp(
  `^(?:CREATE (?:UNLOGGED )?TABLE|ALTER TABLE(?: ONLY)?|ALTER SEQUENCE ${QUOTED}\\.${QUOTED} OWNED BY|COMMENT ON (?:TABLE|COLUMN)|CREATE (?:UNIQUE )?INDEX ${QUOTED} ON(?: ONLY)?|CREATE (?:CONSTRAINT )?TRIGGER ${QUOTED} .*? ON|CREATE POLICY ${QUOTED} ON|ALTER INDEX ${QUOTED}\\.${QUOTED} ATTACH PARTITION|ALTER PUBLICATION ${QUOTED} ADD TABLE ONLY) (${QUOTED})\\.(${QUOTED})`,
  's',
);

const unquote = (s: string): string => s.slice(1, -1).replaceAll('""', '"');

/** The read-only trigger of a copied table, and the schema of its function (src/plan/read-only-copies.ts, written out: the oracle does not import what it checks). */
const READ_ONLY_TRIGGER = 'cloudphone_split_read_only_copy';
const READ_ONLY_SCHEMA = 'cloudphone_split_copy';

/** Whether the dump attaches `table` as a partition of `parent` (at any depth is not needed: the sample's copies are not partitioned). */
function isPartitionOf(dump: string, table: string, parent: string): boolean {
  const q = (k: string) => k.split('.').map((x) => `"${x.replaceAll('"', '""')}"`).join('.');
  return dump.includes(`ALTER TABLE ONLY ${q(parent)} ATTACH PARTITION ${q(table)}`);
}

/** The statements of a block with the lines that differ between runs (settings, blanks) removed. */
function normalize(body: string): string {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('--') && !/^(SET |SELECT pg_catalog\.set_config|\\(un)?restrict )/.test(l))
    .map((l) => l.replace(/,$/, ''))
    .join('\n');
}

/** Splits a dump into its objects, keyed by header. */
export function dumpBlocks(text: string): Map<string, DumpBlock> {
  const out = new Map<string, DumpBlock>();
  const parts = text.split(/^-- Name: /m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf('\n');
    const header = part.slice(0, nl);
    const m = /^(.*); Type: (.*); Schema: (.*); Owner: .*$/.exec(header);
    if (!m) throw new Error(`unexpected pg_dump header: ${header}`);
    const [, name, type, schema] = m as unknown as [string, string, string, string];
    const body = normalize(part.slice(nl + 1));
    const t = TABLE_OF.exec(body);
    const table = t ? `${unquote(t[1]!)}.${unquote(t[2]!)}` : null;
    out.set(`${type} ${schema} ${name}`, { key: `${type} ${schema} ${name}`, type, body, table });
  }
  return out;
}

/** Removes the lines defining `columns` from a CREATE TABLE block. */
function withoutColumns(body: string, columns: string[]): string {
  const lines = body.split('\n');
  return lines.filter((l) => !columns.some((c) => l.startsWith(`    "${c.replaceAll('"', '""')}" `))).join('\n');
}

/**
 * Compares the schema dump of one service database with the dump of the source (taken
 * before the split). Returns every difference other than the expected ones: the plan's
 * dropped foreign keys (absent in the target) and denormalized columns (extra in it).
 */
export function schemaDifferences(sourceDump: string, targetDump: string, plan: Plan, database: string): string[] {
  const service = plan.services.find((s) => s.database === database);
  if (!service) throw new Error(`no service with database ${database} in the plan`);
  const tables = new Set(plan.steps.filter((s) => s.kind === 'copy_data' && s.target.database === database).map((s) => s.table!));
  for (const t of [...service.tables, ...service.copies]) tables.add(t.name);
  const dropped = new Set(service.droppedForeignKeys.map((f) => `${f.table} ${f.constraint}`));
  const extra = new Map<string, string[]>();
  for (const d of service.denormalize) extra.set(d.table, [...(extra.get(d.table) ?? []), d.column]);
  const source = dumpBlocks(sourceDump);
  const target = dumpBlocks(targetDump);
  const problems: string[] = [];
  // A copy is read-only: a trigger on each copied table (partitions too) and the function it calls, in a schema of its own; nothing more, nothing less.
  const copies = new Set(service.copies.map((c) => c.name));
  for (const [key, block] of [...target]) {
    const readOnly = block.type === 'TRIGGER' && key.endsWith(` ${READ_ONLY_TRIGGER}`);
    const own = (block.type === 'SCHEMA' && key === `SCHEMA - ${READ_ONLY_SCHEMA}`) || (block.type === 'FUNCTION' && key === `FUNCTION ${READ_ONLY_SCHEMA} read_only_copy()`);
    const table = block.table;
    if (readOnly && !(table && (copies.has(table) || [...copies].some((c) => isPartitionOf(sourceDump, table, c))))) {
      problems.push(`only in ${database}: ${key} on a table that is not a copy\n${block.body}`);
    }
    if (own && copies.size === 0) problems.push(`only in ${database}: ${key} without any copy\n${block.body}`);
    if (readOnly || own) target.delete(key);
  }
  if (copies.size > 0) {
    for (const c of copies) {
      if (![...dumpBlocks(targetDump).values()].some((b) => b.type === 'TRIGGER' && b.table === c && b.key.endsWith(` ${READ_ONLY_TRIGGER}`))) {
        problems.push(`missing in ${database}: the read-only trigger of the copy ${c}`);
      }
    }
    if (!dumpBlocks(targetDump).has(`FUNCTION ${READ_ONLY_SCHEMA} read_only_copy()`)) problems.push(`missing in ${database}: the function of the copies' read-only triggers`);
  }
  for (const [key, block] of target) {
    const src = source.get(key);
    if (!src) {
      problems.push(`only in ${database}: ${key}\n${block.body}`);
      continue;
    }
    const cols = block.type === 'TABLE' && block.table ? extra.get(block.table) ?? [] : [];
    const body = cols.length > 0 ? withoutColumns(block.body, cols) : block.body;
    if (body !== src.body) problems.push(`differs in ${database}: ${key}\n--- source\n${src.body}\n--- target\n${block.body}`);
  }
  for (const [key, block] of source) {
    if (!block.table || !tables.has(block.table) || target.has(key)) continue;
    if (block.type === 'FK CONSTRAINT') {
      const name = /ADD CONSTRAINT ("(?:[^"]|"")*")/.exec(block.body)?.[1];
      if (name && dropped.has(`${block.table} ${unquote(name)}`)) continue;
    }
    problems.push(`missing in ${database}: ${key}\n${block.body}`);
  }
  return problems;
}
