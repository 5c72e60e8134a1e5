import type { PgClient } from '../steps/handler.js';
import { FENCE_SCHEMA, FENCE_TRIGGER } from '../steps/fence-source.js';
import { parseKey } from '../catalog/model.js';
import { functionsUsingTables, readSourceFunctions } from '../catalog/outside-functions.js';
import { readTableStates, readViewStates, type TableBackup, type ViewBackup } from './table-backup.js';
import { runSumQuery, sumQueries } from './table-sums.js';

/** A foreign key of a table that stays to a kept table: prune drops it, by name, before the tables. */
export interface ReferencingKey {
  /** The referencing table (`schema.name`), which stays. */
  table: string;
  constraint: string;
  /** The kept table it references (`schema.name`). */
  references: string;
}

/** What goes with the kept tables when prune drops them. */
export interface DropSet {
  /** The roots dropped by name (`DROP TABLE`): kept tables that are no partition of another kept table. */
  roots: string[];
  /** Partitions of those roots: they go with them. */
  partitions: string[];
  /** Moved views still there (recorded OID), dropped first. */
  views: ViewBackup[];
  /** Sequences owned by the kept tables (serial, identity): they go with them. */
  sequences: string[];
  referencing: ReferencingKey[];
  /** Things to tell, not to refuse on (a moved view already gone). */
  notes: string[];
}

/**
 * Why the kept tables are not (all) the ones the split marked, now: a table missing,
 * another OID under its name, its fence gone or disabled, its comment changed, a
 * moved view replaced. Null when every fact holds. `client` is in the source database.
 */
export async function keptTableRefusal(client: PgClient, tables: readonly TableBackup[], comment: string): Promise<string | null> {
  const states = await readTableStates(client, tables.map((t) => t.table));
  const problems: string[] = [];
  for (const t of tables) {
    const now = states.get(t.table);
    if (!now) problems.push(`${t.table} no longer exists`);
    else if (now.oid !== t.oid) problems.push(`${t.table} is not the table the split kept (OID ${t.oid} then, ${now.oid} now): it was dropped and created again`);
    else if (now.comment !== comment) problems.push(`${t.table} no longer carries the split's retention comment`);
  }
  if (problems.length > 0) return problems.join('; ');
  // A partition created or attached since under a kept partitioned table may hold rows that exist nowhere else
  // (attached with them, or written before a row fence existed), and DROP TABLE of its root would take it along.
  const kept = new Set(tables.map((t) => t.oid));
  const added = await client.query<{ partition: string; root: string }>(
    `SELECT pn.nspname || '.' || pc.relname AS partition, rn.nspname || '.' || r.relname AS root
       FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace CROSS JOIN LATERAL pg_partition_tree(r.oid) p
       JOIN pg_class pc ON pc.oid = p.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE r.oid = ANY ($1::oid[]) AND r.relkind = 'p' AND p.relid <> r.oid AND NOT (p.relid::oid = ANY ($1::oid[]))
      ORDER BY 2, 1`,
    [[...kept]],
  );
  if (added.rows.length > 0) {
    const named = added.rows.map((r) => `${r.partition} (of ${r.root})`).join(', ');
    return `${added.rows.length === 1 ? 'a partition was' : 'partitions were'} created or attached since the split kept ${added.rows.length === 1 ? 'its table' : 'their tables'}: ${named}; ` +
      `${added.rows.length === 1 ? 'it' : 'they'} may hold rows that exist nowhere else (attached with them, or written while unfenced), and dropping the kept table would take ${added.rows.length === 1 ? 'it' : 'them'} along: ` +
      `move any rows to the service's database, then detach (ALTER TABLE … DETACH PARTITION …) or drop ${added.rows.length === 1 ? 'it' : 'them'} by hand, and prune again`;
  }
  const fenced = await client.query<{ oid: string }>(
    `SELECT tgrelid::text AS oid FROM pg_trigger WHERE tgname = $1 AND tgenabled = 'A' AND tgrelid = ANY ($2::oid[])`,
    [FENCE_TRIGGER, tables.map((t) => t.oid)],
  );
  const have = new Set(fenced.rows.map((r) => Number(r.oid)));
  const unfenced = tables.filter((t) => !have.has(t.oid)).map((t) => t.table);
  if (unfenced.length > 0) return `the fence is gone or no longer enabled on ${unfenced.join(', ')}, so writes may have reached ${unfenced.length === 1 ? 'it' : 'them'}`;
  return null;
}

/**
 * Whether any kept table's rows differ from the count and checksum recorded when it
 * became a backup (taken the same way, so they compare): a reason to refuse, or null.
 * Run it where no write can happen meanwhile (the caller holds a SHARE lock).
 */
export async function writtenSince(client: PgClient, tables: readonly TableBackup[], prepared: Awaited<ReturnType<typeof sumQueries>>): Promise<string | null> {
  const changed: string[] = [];
  for (const t of tables) {
    const now = await runSumQuery(client, prepared, t.table);
    if (!now) changed.push(`${t.table} (missing)`);
    else if (now.rows !== t.rows) changed.push(`${t.table} (${t.rows} rows then, ${now.rows} now)`);
    else if (now.sum !== t.sum) changed.push(`${t.table} (same ${t.rows} rows, other contents)`);
  }
  return changed.length > 0 ? `written to since ${changed.length === 1 ? 'it' : 'they'} became a backup: ${changed.join(', ')}` : null;
}

/** The checksum queries to compare the kept tables with: the recorded method, on the same major (else they do not compare). */
export async function preparedSums(client: PgClient, tables: readonly TableBackup[]): Promise<{ prepared: Awaited<ReturnType<typeof sumQueries>> } | { refuse: string }> {
  const method = tables[0]?.method ?? 'text';
  const prepared = await sumQueries(client, tables.map((t) => t.table), method);
  const other = tables.find((t) => t.method !== method || t.major !== prepared.major);
  if (other) {
    return { refuse: `the checksums of ${other.table} were taken on PostgreSQL ${other.major} (${other.method}), the server now runs ${prepared.major}: they cannot prove that nothing was written since` };
  }
  return { prepared };
}

/** What dropping the kept tables takes with it, read from the catalog now. */
export async function dropSet(client: PgClient, tables: readonly TableBackup[], views: readonly ViewBackup[]): Promise<DropSet | { refuse: string }> {
  const oids = tables.map((t) => t.oid);
  const roots = tables.filter((t) => t.parent === null).map((t) => t.table).sort();
  const partitions = tables.filter((t) => t.parent !== null).map((t) => t.table).sort();
  const nowViews = new Map((await readViewStates(client, views.map((v) => v.view))).map((v) => [v.view, v]));
  const keptViews: ViewBackup[] = [];
  const notes: string[] = [];
  for (const v of views) {
    const now = nowViews.get(v.view);
    if (!now) notes.push(`the moved view ${v.view} is already gone`);
    else if (now.oid !== v.oid) return { refuse: `${v.view} is not the view the split moved (OID ${v.oid} then, ${now.oid} now)` };
    else keptViews.push(v);
  }
  const seqs = await client.query<{ seq: string }>(
    `SELECT DISTINCT n.nspname || '.' || s.relname AS seq
       FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        AND d.refobjid = ANY ($1::oid[])
      ORDER BY 1`,
    [oids],
  );
  const fks = await client.query<{ table: string; constraint: string; references: string }>(
    `SELECT rn.nspname || '.' || r.relname AS table, c.conname AS constraint, fn.nspname || '.' || f.relname AS references
       FROM pg_constraint c
       JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
       JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
      WHERE c.contype = 'f' AND c.confrelid = ANY ($1::oid[]) AND NOT (c.conrelid = ANY ($1::oid[])) AND c.conparentid = 0
      ORDER BY 1, 2`,
    [oids],
  );
  return { roots, partitions, views: keptViews, sequences: seqs.rows.map((r) => r.seq), referencing: fks.rows, notes };
}

/**
 * What would make the drop of the kept tables fail (PostgreSQL's own refusal, since prune
 * never cascades): views that read them other than the moved views dropped with them, and
 * functions using their row type. Found before anything is archived or dropped, and by
 * the preview without `--yes`, which otherwise promised a drop the real run refused.
 */
export async function blockingDependents(client: PgClient, tables: readonly TableBackup[], views: readonly ViewBackup[]): Promise<string[]> {
  const kept = tables.map((t) => t.oid);
  const moved = views.map((v) => v.oid);
  const r = await client.query<{ what: string }>(
    `SELECT DISTINCT format('view %s depends on table %s', vn.nspname || '.' || v.relname, cn.nspname || '.' || c.relname) AS what
       FROM pg_depend d
       JOIN pg_rewrite w ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
       JOIN pg_class v ON v.oid = w.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace cn ON cn.oid = c.relnamespace
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY ($1::oid[])
        AND NOT (v.oid = ANY ($1::oid[])) AND NOT (v.oid = ANY ($2::oid[]))
     UNION
     SELECT format('function %s depends on the row type of %s', p.oid::regprocedure, cn.nspname || '.' || c.relname)
       FROM pg_depend d
       JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
       JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND d.refobjid = t.oid
       JOIN pg_class c ON c.oid = t.typrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
      WHERE c.oid = ANY ($1::oid[]) AND d.deptype = 'n'
      ORDER BY 1`,
    [kept, moved],
  );
  return r.rows.map((x) => x.what);
}

/** The refusal for them, or null. */
export function dependentsRefusal(dependents: readonly string[]): string | null {
  if (dependents.length === 0) return null;
  return `dropping the moved tables would fail, since prune never cascades: ${dependents.slice(0, 10).join('; ')}${dependents.length > 10 ? `; and ${dependents.length - 10} more` : ''}; ` +
    'drop or change them in the source first (nothing was dropped)';
}


/**
 * Functions of the source whose body reads or writes a table prune drops (found in the
 * body's text, as `plan` finds them: pg_depend records none of it, so PostgreSQL drops the
 * table and the function fails at its next call). A function a service's database got
 * (`ownFunctions`, `schema.name(args)` as the plan lists them) is the split's own copy
 * left behind and is not counted; the tool's own schema neither.
 */
export async function functionsUsing(client: PgClient, tables: readonly string[], ownFunctions: ReadonlySet<string>): Promise<string[]> {
  return functionsUsingTables(await readSourceFunctions(client, [FENCE_SCHEMA]), tables, ownFunctions);
}

/** The refusal for them, or null. */
export function functionsRefusal(functions: readonly string[]): string | null {
  if (functions.length === 0) return null;
  return `functions of the source use the moved tables, and would fail at their next call once the tables are gone: ${functions.slice(0, 10).join('; ')}${functions.length > 10 ? `; and ${functions.length - 10} more` : ''}; ` +
    'drop or change them in the source first (nothing was dropped)';
}
