import type { Plan } from '../../../src/plan/model.js';
import { query, withDatabase } from '../../harness/servers.js';

/**
 * Compares the catalog signature (helpers/catalog-signature.ts) of one service database
 * with the signature of the source taken before the split: every line about a table,
 * view or sequence the service holds (its columns, constraints, indexes, triggers,
 * policies, sequence values) must be the same, less the plan's dropped foreign keys and
 * denormalized columns, with the service role as the owner. Works across majors: the
 * few lines that differ only because two majors render or catalog the same schema
 * differently are normalised (see `normaliseLine` and `expectedServiceLines`).
 */

const QUOTED = '"(?:[^"]|"")*"';
const PART = `(?:${QUOTED}|[^\\s."]+)`;
const NAME = new RegExp(`^(${PART}(?:\\.${PART})*)`);

/** `constraint <table> <name> NOT NULL <column>`: an 18+ NOT NULL constraint row. */
const NOT_NULL_ROW = new RegExp(`^constraint ${PART}(?:\\.${PART})* ${PART} NOT NULL ${PART}$`);

const unquote = (part: string): string => (part.startsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part);

/** The parts of a dotted name at the start of `text`, unquoted. */
function nameParts(text: string): { parts: string[]; rest: string } {
  const m = NAME.exec(text);
  if (!m) return { parts: [], rest: text };
  const parts = m[1]!.match(new RegExp(PART, 'g'))!.map(unquote);
  return { parts, rest: text.slice(m[1]!.length) };
}

/** `schema.name` → `name` for `public`, so that regclass text (search_path-relative) and qualified text agree. */
const relKey = (parts: string[]): string => (parts.length > 1 && parts[0] === 'public' ? parts.slice(1) : parts).join('.');

/** One signature line with the relation (table, view, sequence) it is about, or null. */
export interface SignatureLine {
  line: string;
  kind: string;
  relation: string | null;
  /** For a `constraint` line: its name. For a `column` line: the column. */
  member: string | null;
}

/**
 * Splits signature lines by the relation they are about. Index relations count as their
 * table's; composite types (relkind c) and domain constraints are about no relation.
 */
export function classify(lines: string[]): SignatureLine[] {
  const indexTable = new Map<string, string>();
  const onTable = (text: string): string | null => {
    const m = new RegExp(` ON (?:ONLY )?(${PART}\\.${PART}) `).exec(text);
    return m ? relKey(nameParts(m[1]!).parts) : null;
  };
  for (const line of lines) {
    const m = new RegExp(`^index CREATE (?:UNIQUE )?INDEX (${PART}) ON `).exec(line);
    const table = m ? onTable(line) : null;
    if (m && table) indexTable.set(unquote(m[1]!), table);
  }
  const tables = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith('relation ')) continue;
    const { parts, rest } = nameParts(line.slice('relation '.length));
    if (/^ [rpvmS] /.test(rest)) tables.add(relKey(parts));
  }
  return lines.map((line) => {
    const kind = line.slice(0, line.indexOf(' '));
    const body = line.slice(kind.length + 1);
    let relation: string | null = null;
    let member: string | null = null;
    if (kind === 'relation') {
      const { parts, rest } = nameParts(body);
      const relkind = rest.slice(1, 2);
      const key = relKey(parts);
      relation = relkind === 'i' || relkind === 'I' ? (indexTable.get(key) ?? null) : relkind === 'c' ? null : key;
    } else if (kind === 'column') {
      const { parts } = nameParts(body);
      relation = relKey(parts.slice(0, -1));
      member = parts.at(-1) ?? null;
    } else if (kind === 'constraint') {
      const { parts, rest } = nameParts(body);
      const key = relKey(parts);
      relation = tables.has(key) ? key : null;
      member = nameParts(rest.trimStart()).parts[0] ?? null;
    } else if (kind === 'index' || kind === 'trigger') {
      relation = onTable(body);
    } else if (kind === 'policy') {
      // schemaname.tablename, unquoted (pg_policies).
      relation = relKey(body.slice(0, body.indexOf(' ')).split('.'));
    } else if (kind === 'sequence') {
      // schemaname.sequencename value, unquoted (pg_sequences): the value is the last word.
      const name = body.slice(0, body.lastIndexOf(' '));
      const dot = name.indexOf('.');
      relation = relKey([name.slice(0, dot), name.slice(dot + 1)]);
    }
    return { line, kind, relation, member };
  });
}

/** The read-only trigger of a copy (src/plan/read-only-copies.ts, written out: the oracle does not import what it checks). */
const isReadOnlyCopyTrigger = (line: string): boolean => /^trigger CREATE TRIGGER "?cloudphone_split_read_only_copy"? BEFORE INSERT OR DELETE OR UPDATE OR TRUNCATE ON .* FOR EACH STATEMENT EXECUTE FUNCTION "?cloudphone_split_copy"?\."?read_only_copy"?\(/.test(line);

/** The relations of a database that carry a copy's read-only trigger: exactly its copies, said the test. */
export function copyTriggerRelations(target: string[]): string[] {
  return classify(target)
    .filter((l) => l.kind === 'trigger' && l.relation !== null && isReadOnlyCopyTrigger(l.line))
    .map((l) => l.relation!)
    .sort();
}

/** The relation keys of a service's copies, as `copyTriggerRelations` gives them. */
export function copyRelations(plan: Plan, database: string): string[] {
  const service = plan.services.find((s) => s.database === database)!;
  return service.copies.map((c) => relKey([c.name.slice(0, c.name.indexOf('.')), c.name.slice(c.name.indexOf('.') + 1)])).sort();
}

/**
 * What two majors render differently for the same object, made equal: `quote_ident`
 * quotes the words that are keywords of the server rendering the line, and majors add
 * keywords (SYSTEM_USER in 16, so `"system_user"` there and `system_user` in 13), so a
 * quoted plain lower-case identifier is written bare. The owner is replaced by `<owner>`
 * (compared separately).
 */
export function normaliseLine(line: string): string {
  return line.replace(/"([a-z_][a-z0-9_]*)"/g, '$1').replace(/ owner \S+/g, ' owner <owner>');
}

/** The relations (tables with partitions, views, sequences) the plan puts in a service's database, as relKey()s. */
export function serviceRelations(plan: Plan, database: string): Set<string> {
  const service = plan.services.find((s) => s.database === database);
  if (!service) throw new Error(`no service with database ${database} in the plan`);
  const keys = new Set<string>();
  const add = (key: string): void => {
    const dot = key.indexOf('.');
    keys.add(relKey([key.slice(0, dot), key.slice(dot + 1)]));
  };
  for (const t of [...service.tables, ...service.copies]) add(t.name);
  for (const v of service.views) add(v);
  for (const s of plan.steps) {
    if (s.kind === 'copy_data' && s.target.database === database) add(s.table!);
    if (s.kind === 'sync_sequences' && s.target.database === database) for (const q of s.sequences) add(`${q.target.schema}.${q.target.name}`);
  }
  return keys;
}

/** The relation lines the service's database should have: the source's lines about its relations, less the dropped foreign keys. */
export function expectedServiceLines(source: string[], plan: Plan, database: string): string[] {
  const service = plan.services.find((s) => s.database === database)!;
  const relations = serviceRelations(plan, database);
  const dropped = new Set(service.droppedForeignKeys.map((f) => `${relKey(f.table.split('.'))} ${f.constraint}`));
  return classify(source)
    .filter((l) => l.relation !== null && relations.has(l.relation))
    .filter((l) => !(l.kind === 'constraint' && dropped.has(`${l.relation} ${l.member}`)))
    .map((l) => normaliseLine(l.line))
    .sort();
}

/**
 * The relation lines of a service database, less its denormalized columns. When the
 * target catalogs NOT NULL as constraint rows (18+) and the source (before 18) does not,
 * those target lines are left out: the `column ... not null` lines say the same on both.
 */
export function actualServiceLines(target: string[], plan: Plan, database: string, sourceMajor: number, targetMajor: number): string[] {
  const service = plan.services.find((s) => s.database === database)!;
  const extra = new Set(service.denormalize.map((d) => `${relKey(d.table.split('.'))} ${d.column}`));
  const notNullRows = sourceMajor < 18 && targetMajor >= 18;
  const copies = new Set(copyTriggerRelations(target));
  return classify(target)
    .filter((l) => l.relation !== null)
    .filter((l) => !(l.kind === 'trigger' && copies.has(l.relation!) && isReadOnlyCopyTrigger(l.line)))
    .filter((l) => !(l.kind === 'column' && extra.has(`${l.relation} ${l.member}`)))
    .filter((l) => !(notNullRows && l.kind === 'constraint' && NOT_NULL_ROW.test(l.line)))
    .map((l) => normaliseLine(l.line))
    .sort();
}

/** The owners named by `relation` and `function` lines (pass userFunctionLines() for the functions). */
export function owners(lines: string[]): string[] {
  const out = new Set<string>();
  for (const l of lines) {
    const m = / owner (\S+)/.exec(l);
    if (m && (l.startsWith('relation ') || l.startsWith('function '))) out.add(m[1]!);
  }
  return [...out].sort();
}

/**
 * `function <regprocedure> owner <role>` lines of the functions that belong to no
 * extension (as they are: normaliseLine() them to compare): an extension's members
 * follow its version, which differs between majors, and stay its creator's.
 */
export async function userFunctionLines(serverUrl: string, database: string, signature: string[]): Promise<string[]> {
  const members = await query<{ f: string }>(
    withDatabase(serverUrl, database),
    `SELECT p.oid::regprocedure::text AS f FROM pg_proc p
       JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'`,
  );
  const skip = new Set(members.map((m) => m.f));
  return signature
    .filter((l) => l.startsWith('function ') && !skip.has(l.slice('function '.length, l.lastIndexOf(' owner '))))
    .sort();
}
