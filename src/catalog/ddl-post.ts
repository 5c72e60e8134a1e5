import type { Constraint, Index, Table } from './model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { alterTable } from './ddl-table.js';

/** How a table's post-data is rendered: `partition` when its parent is created too. */
export interface PostContext {
  partition: boolean;
}

const ENABLE: Record<string, string> = { D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' };

/**
 * pg_get_indexdef of a partitioned table's index reads `ON ONLY`: without ONLY
 * the index is created on the parent and attaches the partitions' matching
 * indexes, which were created first.
 */
export function indexSql(t: Table, i: Index): string {
  if (t.kind !== 'p') return i.definition;
  for (const head of [`CREATE INDEX ${ident(i.name)} ON ONLY `, `CREATE UNIQUE INDEX ${ident(i.name)} ON ONLY `]) {
    if (i.definition.startsWith(head)) return head.slice(0, -'ONLY '.length) + i.definition.slice(head.length);
  }
  return i.definition;
}

function constraintComment(t: Table, c: Constraint): string[] {
  return c.comment === null ? [] : [`COMMENT ON CONSTRAINT ${ident(c.name)} ON ${qname(t)} IS ${literal(c.comment)}`];
}

/**
 * One PRIMARY KEY / UNIQUE / EXCLUDE constraint. A table without parents builds
 * the index first, then attaches it (CREATE INDEX takes a weaker lock). Not on a
 * partition or inheritance child: on 18, USING INDEX would make the NOT NULL
 * constraints it inherited local. Not for a WITHOUT OVERLAPS key (a GiST index).
 */
function keySql(t: Table, c: Constraint): string[] {
  const idx = t.indexes.find((i) => i.constraint === c.name);
  const hasParent = t.partitionOf !== null || t.inherits.length > 0;
  const btree = !!idx && /^CREATE UNIQUE INDEX .* USING "?btree"? \(/.test(idx.definition);
  if (c.type === 'x' || t.kind === 'p' || hasParent || !idx || !btree) {
    return [`${alterTable(t)} ADD CONSTRAINT ${ident(c.name)} ${c.definition}`];
  }
  const kind = c.type === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
  const deferrable = c.deferrable ? (c.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE') : '';
  return [idx.definition, `${alterTable(t)} ADD CONSTRAINT ${ident(c.name)} ${kind} USING INDEX ${ident(idx.name)}${deferrable}`];
}

/**
 * Keys and indexes of one table. A partition's are all created explicitly (names
 * kept), before its parent's, whose own then attach them.
 */
export function indexPhase(t: Table): string[] {
  const out: string[] = [];
  const keys = t.constraints.filter((c) => c.type === 'p' || c.type === 'u' || c.type === 'x');
  for (const c of keys) out.push(...keySql(t, c), ...constraintComment(t, c));
  for (const i of t.indexes) {
    if (i.constraint === null) out.push(indexSql(t, i));
    if (i.comment !== null) out.push(`COMMENT ON INDEX ${qname({ schema: t.schema, name: i.name })} IS ${literal(i.comment)}`);
    for (const x of i.statistics ?? []) out.push(`ALTER INDEX ${qname({ schema: t.schema, name: i.name })} ALTER COLUMN ${x.column} SET STATISTICS ${x.target}`);
  }
  const clustered = t.indexes.find((i) => i.clustered);
  if (clustered) out.push(`${alterTable(t)} CLUSTER ON ${ident(clustered.name)}`);
  if (t.replicaIdentity === 'f') out.push(`${alterTable(t)} REPLICA IDENTITY FULL`);
  else if (t.replicaIdentity === 'n') out.push(`${alterTable(t)} REPLICA IDENTITY NOTHING`);
  else if (t.replicaIdentity === 'i' && t.replicaIdentityIndex) {
    out.push(`${alterTable(t)} REPLICA IDENTITY USING INDEX ${ident(t.replicaIdentityIndex)}`);
  }
  return out;
}

/**
 * What follows the data besides keys and indexes: NOT VALID checks, comments of
 * inline checks, triggers and their enabled state, row-level security. Parents
 * come before their partitions (a partition's trigger clone exists only then).
 */
export function otherPhase(t: Table, ctx: PostContext): string[] {
  const out: string[] = [];
  for (const c of t.constraints) {
    if (c.type !== 'c' && c.type !== 'n') continue;
    const own = !c.inherited || (t.partitionOf !== null && !ctx.partition);
    if (!c.validated && own) out.push(`${alterTable(t)} ADD CONSTRAINT ${ident(c.name)} ${c.definition}`);
    if (own) out.push(...constraintComment(t, c));
  }
  for (const tr of t.triggers) {
    if (!tr.inherited) out.push(tr.definition);
    const enable = ENABLE[tr.enabled];
    if (enable || tr.inherited) out.push(`ALTER TABLE ${qname(t)} ${enable ?? 'ENABLE TRIGGER'} ${ident(tr.name)}`);
    if (tr.comment !== null && !tr.inherited) out.push(`COMMENT ON TRIGGER ${ident(tr.name)} ON ${qname(t)} IS ${literal(tr.comment)}`);
  }
  if (t.rowSecurity) out.push(`ALTER TABLE ${qname(t)} ENABLE ROW LEVEL SECURITY`);
  if (t.forceRowSecurity) out.push(`ALTER TABLE ${qname(t)} FORCE ROW LEVEL SECURITY`);
  for (const p of t.policies) {
    out.push(p.definition);
    if (p.comment !== null) out.push(`COMMENT ON POLICY ${ident(p.name)} ON ${qname(t)} IS ${literal(p.comment)}`);
  }
  for (const r of t.rules ?? []) {
    out.push(r.definition);
    const enable = RULE_ENABLE[r.enabled];
    if (enable) out.push(`ALTER TABLE ${qname(t)} ${enable} ${ident(r.name)}`);
    if (r.comment !== null) out.push(`COMMENT ON RULE ${ident(r.name)} ON ${qname(t)} IS ${literal(r.comment)}`);
  }
  for (const x of t.statistics ?? []) {
    out.push(x.definition);
    if (x.target !== null) out.push(`ALTER STATISTICS ${qname(x)} SET STATISTICS ${x.target}`);
    if (x.comment !== null) out.push(`COMMENT ON STATISTICS ${qname(x)} IS ${literal(x.comment)}`);
  }
  return out;
}

/** pg_rewrite.ev_enabled → the ALTER TABLE that sets it; O (the default) needs none. */
const RULE_ENABLE: Record<string, string> = { D: 'DISABLE RULE', R: 'ENABLE REPLICA RULE', A: 'ENABLE ALWAYS RULE' };

/** ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY, with its comment. */
export function foreignKeySql(t: Table, fk: Constraint): string[] {
  return [`${alterTable(t)} ADD CONSTRAINT ${ident(fk.name)} ${fk.definition}`, ...constraintComment(t, fk)];
}
