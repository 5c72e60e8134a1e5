import type { Plan } from '../plan/model.js';
import type { PgClient } from '../steps/handler.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { PlanBlockedError } from '../errors.js';

/** A partition of a moved table made in a new database since cutover, holding rows, that the source has no partition of that name for. */
export interface NewPartition {
  database: string;
  partition: string;
  root: string;
  rows: number;
  /** What makes it in the source. */
  ddl: string;
}

/** What the partition trees of `roots` hold in a new database that the source's do not. */
export interface PartitionsSince {
  /** Leaves made in the new database since, which the source has too (made there by hand since). */
  inBoth: Array<{ leaf: string; root: string }>;
  /** Leaves with rows the source has no partition of that name for. */
  missing: NewPartition[];
}

const LEAVES = `
SELECT r.root, n.nspname || '.' || c.relname AS leaf, p.parentrelid::regclass::text AS parent,
       (SELECT pg_catalog.pg_get_userbyid(x.relowner) FROM pg_catalog.pg_class x WHERE x.oid = p.parentrelid) AS parent_owner,
       format('CREATE TABLE %I.%I PARTITION OF %s %s', n.nspname, c.relname, p.parentrelid::regclass::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid)) AS ddl
  FROM unnest($1::text[], $2::text[]) AS r(root, quoted)
  CROSS JOIN LATERAL pg_catalog.pg_partition_tree(to_regclass(r.quoted)) p
  JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE p.isleaf AND p.level > 0 AND to_regclass(r.quoted) IS NOT NULL`;

/**
 * The leaves of the new database's partition trees of `roots` (moved partitioned tables,
 * `schema.name`) that are not among `known` (the leaves the plan moved): made there
 * since cutover (a service's job making next month's partition). Rollback carries rows
 * into the source's partitions (reverse replication through each root, copy_back leaf by
 * leaf), so the rows of a leaf the source has no partition of that name for would stay
 * behind in the new database. `src` and `dst`: sessions in the source and the new database.
 */
export async function partitionsSinceCutover(src: PgClient, dst: PgClient, database: string, roots: readonly string[], known: ReadonlySet<string>): Promise<PartitionsSince> {
  const out: PartitionsSince = { inBoth: [], missing: [] };
  if (roots.length === 0) return out;
  const quoted = roots.map((r) => qname(parseKey(r)));
  const target = await dst.query<{ root: string; leaf: string; parent: string; ddl: string }>(LEAVES, [roots, quoted]);
  const fresh = target.rows.filter((r) => !known.has(r.leaf));
  if (fresh.length === 0) return out;
  const source = await src.query<{ leaf: string; parent: string; parent_owner: string }>(LEAVES, [roots, quoted]);
  const inSource = new Set(source.rows.map((r) => r.leaf));
  // Owned like its siblings: from PostgreSQL 16 a subscription applies rows as the table's owner, who must be able to write the partition.
  const ownerOf = new Map(source.rows.map((r) => [r.parent, r.parent_owner]));
  for (const r of fresh) {
    if (inSource.has(r.leaf)) {
      out.inBoth.push({ leaf: r.leaf, root: r.root });
      continue;
    }
    const n = await dst.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(r.leaf))}`);
    const rows = Number(n.rows[0]?.n ?? 0);
    const owner = ownerOf.get(r.parent);
    const ddl = owner ? `${r.ddl}; ALTER TABLE ${qname(parseKey(r.leaf))} OWNER TO ${ident(owner)}` : r.ddl;
    if (rows > 0) out.missing.push({ database, partition: r.leaf, root: r.root, rows, ddl });
  }
  return out;
}

/** What rollback and reverse replication make of a partition tree's rows that the source has no partition of that name for. */
export interface TreeFacts {
  /** The source's tree has a DEFAULT partition. */
  hasDefault: boolean;
  /** copy_back copies the tree, leaf by leaf (no replica identity, UNLOGGED): reverse replication does not publish it. */
  copiedBack: boolean;
}

/**
 * For each of `roots` (in the source): whether its tree has a DEFAULT partition and
 * whether copy_back copies it (`copiedBack`: copy_back's leaves). Reverse replication
 * publishes through each root: a row of a replicated tree lands in the source's DEFAULT
 * partition when the source lacks the partition it was written to, and without one the
 * subscription stops at that row (every later write of that database waits behind it).
 */
export async function treeFacts(src: PgClient, roots: readonly string[], copiedBack: readonly string[]): Promise<Map<string, TreeFacts>> {
  if (roots.length === 0) return new Map();
  const r = await src.query<{ root: string; has_default: boolean; copied_back: boolean }>(
    `SELECT x.root,
            EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(to_regclass(x.quoted)) p JOIN pg_catalog.pg_class c ON c.oid = p.relid
                     WHERE pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') AS has_default,
            EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(to_regclass(x.quoted)) p
                     WHERE p.relid = ANY (ARRAY(SELECT to_regclass(b) FROM unnest($3::text[]) b))) AS copied_back
       FROM unnest($1::text[], $2::text[]) AS x(root, quoted)`,
    [roots, roots.map((t) => qname(parseKey(t))), copiedBack.map((t) => qname(parseKey(t)))],
  );
  return new Map(r.rows.map((x) => [x.root, { hasDefault: x.has_default, copiedBack: x.copied_back }]));
}

/** The tables the plan moved into `database`: its services' tables and the leaves its copies copied (roots and partitions). */
export function movedTablesOf(plan: Plan, database: string): Set<string> {
  const known = new Set<string>();
  for (const s of plan.services) if (s.database === database) for (const t of s.tables) known.add(t.name);
  for (const s of plan.steps) if ((s.kind === 'copy_data' || s.kind === 'copy_back') && s.target.database === database) {
    if (s.kind === 'copy_data' && s.table) known.add(s.table);
    if (s.kind === 'copy_back') for (const l of s.leaves) known.add(l.table);
  }
  return known;
}

/** The refusal (exit 1) when partitions made in the new databases since cutover hold rows the source has nowhere to put. */
export function newPartitionsError(split: string, source: string, missing: readonly NewPartition[], fenced: boolean): PlanBlockedError {
  const lines = missing.map((m) => `  ${m.database}: ${m.partition} (a partition of ${m.root}, ${m.rows} ${m.rows === 1 ? 'row' : 'rows'})`);
  return new PlanBlockedError(
    `split ${split}: ${missing.length === 1 ? 'a partition' : `${missing.length} partitions`} made in the new databases since cutover ` +
      `${missing.length === 1 ? 'holds' : 'hold'} rows that ${source} has no partition for; rollback would leave them behind:\n${lines.join('\n')}\n` +
      (fenced ? 'nothing was copied back; the new databases are fenced (writes refused) until rollback finishes' : 'nothing was changed'),
    `make ${missing.length === 1 ? 'it' : 'them'} in ${source} first, then rerun rollback (the fence lets DDL through; a retired database is read-only by default): ` +
      `BEGIN READ WRITE; ${missing.map((m) => `${m.ddl};`).join(' ')} COMMIT;`,
  );
}
