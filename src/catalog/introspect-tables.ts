import type { Constraint, ExtendedStatistics, Index, Policy, QualifiedName, Rule, Table, Trigger } from './model.js';
import type { ColumnRow, RelationRow } from './introspect-relations.js';
import { toColumn } from './introspect-relations.js';
import type { ConstraintRow, IndexRow, PolicyRow, RuleRow, StatisticsRow, TriggerRow } from './introspect-parts.js';
import type { TypeFlag } from './introspect-type-flags.js';
import { ident, qname } from '../pg/quote.js';
import { byString, sortBy } from './introspect-util.js';
import { reloptionsSql } from './ddl-options.js';

/** Everything read about the selected tables, grouped by table OID. */
export interface TableParts {
  columns: Map<number, ColumnRow[]>;
  constraints: Map<number, ConstraintRow[]>;
  indexes: Map<number, IndexRow[]>;
  triggers: Map<number, TriggerRow[]>;
  policies: Map<number, PolicyRow[]>;
  /** Absent: not read (the table gets no `rules` or `statistics`). */
  rules?: Map<number, RuleRow[]>;
  statistics?: Map<number, StatisticsRow[]>;
  typeFlags: Map<number, TypeFlag[]>;
  /** Table OID → column name → key of the sequence behind its identity. */
  identity: Map<number, Map<string, string>>;
}

export function groupBy<T extends { relid: number }>(items: T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const i of items) {
    const list = out.get(i.relid);
    if (list) list.push(i);
    else out.set(i.relid, [i]);
  }
  return out;
}

/** pg_dump's rebuilt PRIMARY KEY / UNIQUE body: keeps INCLUDE, NULLS NOT DISTINCT, WITH and deferrability. */
function keyDefinition(r: ConstraintRow): string {
  const all = r.index_columns ?? r.columns ?? [];
  const nkey = r.index_key_count ?? all.length;
  const keys = all.slice(0, nkey).map(ident);
  if (r.period && keys.length > 0) keys[keys.length - 1] += ' WITHOUT OVERLAPS';
  let def = r.contype === 'p' ? 'PRIMARY KEY' : r.nulls_not_distinct ? 'UNIQUE NULLS NOT DISTINCT' : 'UNIQUE';
  def += ` (${keys.join(', ')})`;
  if (all.length > nkey) def += ` INCLUDE (${all.slice(nkey).map(ident).join(', ')})`;
  if (r.index_options && r.index_options.length > 0) def += ` WITH (${reloptionsSql(r.index_options)})`;
  if (r.deferrable) def += r.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE';
  return def;
}

function toConstraint(r: ConstraintRow): Constraint {
  return {
    name: r.name,
    type: r.contype,
    definition: r.contype === 'p' || r.contype === 'u' ? keyDefinition(r) : r.def,
    columns: r.columns ?? [],
    validated: r.validated,
    deferrable: r.deferrable,
    deferred: r.deferred,
    references:
      r.contype === 'f' && r.ref_schema !== null && r.ref_name !== null
        ? { table: { schema: r.ref_schema, name: r.ref_name }, columns: r.ref_columns ?? [] }
        : null,
    index: r.index_name,
    inherited: r.has_parent || !r.islocal,
    comment: r.comment,
  };
}

const POLICY_CMD: Record<string, string> = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' };

function toPolicy(r: PolicyRow, table: QualifiedName): Policy {
  const roles = [...r.roles].sort(byString);
  let def = `CREATE POLICY ${ident(r.name)} ON ${qname(table)} AS ${r.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'}`;
  def += ` FOR ${POLICY_CMD[r.cmd] ?? 'ALL'} TO ${roles.map((x) => (x === 'public' ? 'PUBLIC' : ident(x))).join(', ')}`;
  if (r.qual !== null) def += ` USING (${r.qual})`;
  if (r.withcheck !== null) def += ` WITH CHECK (${r.withcheck})`;
  return { name: r.name, definition: def, roles, comment: r.comment };
}

function toTrigger(r: TriggerRow): Trigger {
  const t: Trigger = {
    name: r.name,
    definition: r.def,
    enabled: r.enabled,
    function: `${r.fschema}.${r.fname}(${r.fargs})`,
    comment: r.comment,
  };
  if (r.inherited) t.inherited = true;
  return t;
}

function toRule(r: RuleRow): Rule {
  return { name: r.name, definition: r.def.replace(/;\s*$/, ''), enabled: r.enabled, comment: r.comment, references: [...r.refs].sort(byString) };
}

function toStatistics(r: StatisticsRow): ExtendedStatistics {
  return { schema: r.schema, name: r.name, definition: r.def, target: r.target, comment: r.comment };
}

function toIndex(r: IndexRow): Index {
  return {
    name: r.name,
    definition: r.def,
    constraint: r.constraint_name,
    unique: r.unique,
    primary: r.primary,
    clustered: r.clustered,
    parentIndex: r.parent_schema !== null && r.parent_name !== null ? { schema: r.parent_schema, name: r.parent_name } : null,
    comment: r.comment,
    ...(r.stats && r.stats.length > 0 ? { statistics: r.stats.map(([column, target]) => ({ column, target })) } : {}),
  };
}

/**
 * NOT NULL on 18+: a constraint is worth keeping in the model only when it cannot
 * be recreated by a plain NOT NULL (pg_dump's rule): its name differs from the one
 * the target would choose, it is NOT VALID or NO INHERIT, or it has a comment.
 */
function keepNotNull(r: ConstraintRow, table: RelationRow, parentNames: Map<string, string> | undefined): boolean {
  const column = r.columns?.[0] ?? '';
  const expected = r.islocal ? `${table.name}_${column}_not_null` : (parentNames?.get(column) ?? `${table.name}_${column}_not_null`);
  return r.name !== expected || !r.validated || r.noinherit || r.comment !== null;
}

/** Builds one table; `dependsOn` is filled by the caller. */
export function buildTable(rel: RelationRow, parts: TableParts, notNullNames: Map<number, Map<string, string>>, parentOid: number | null): Table {
  const cons = parts.constraints.get(rel.oid) ?? [];
  const invalidNotNull = new Set(cons.filter((c) => c.contype === 'n' && !c.validated).map((c) => c.columns?.[0]));
  const parentNames = parentOid !== null ? notNullNames.get(parentOid) : undefined;
  const identity = parts.identity.get(rel.oid);
  const columns = (parts.columns.get(rel.oid) ?? [])
    .sort((a, b) => a.position - b.position)
    .map((c) => toColumn(c, parts.typeFlags.get(c.typid) ?? [], identity?.get(c.name) ?? null, c.attnotnull && !invalidNotNull.has(c.name)));
  const constraints = cons.filter((c) => c.contype !== 'n' || keepNotNull(c, rel, parentNames)).map(toConstraint);
  const indexes = (parts.indexes.get(rel.oid) ?? []).map(toIndex);
  const parents = rel.parents ?? [];
  const isPartition = rel.ispartition && parents.length > 0;
  const replicaIndex = (parts.indexes.get(rel.oid) ?? []).find((i) => i.replident);
  return {
    schema: rel.schema,
    name: rel.name,
    kind: rel.relkind === 'p' ? 'p' : 'r',
    persistence: rel.relpersistence === 'u' ? 'u' : 'p',
    partitionOf: isPartition ? { parent: parents[0]!, bound: rel.bound ?? '' } : null,
    partitionKey: rel.partkey,
    inherits: isPartition ? [] : parents,
    reloptions: rel.reloptions,
    toastReloptions: rel.toast_reloptions,
    replicaIdentity: rel.relreplident,
    replicaIdentityIndex: rel.relreplident === 'i' ? (replicaIndex?.name ?? null) : null,
    rowSecurity: rel.relrowsecurity,
    forceRowSecurity: rel.relforcerowsecurity,
    ...(rel.access_method ? { accessMethod: rel.access_method } : {}),
    comment: rel.comment,
    rowsEstimate: rel.reltuples,
    bytes: rel.bytes === null ? 0 : Number(rel.bytes),
    columns,
    constraints: sortBy(constraints, (c) => c.name),
    indexes: sortBy(indexes, (i) => i.name),
    triggers: sortBy((parts.triggers.get(rel.oid) ?? []).map(toTrigger), (t) => t.name),
    policies: sortBy((parts.policies.get(rel.oid) ?? []).map((p) => toPolicy(p, rel)), (p) => p.name),
    // Only when there are some: a table without keeps the shape (and fingerprint) it always had.
    ...withSome('rules', sortBy((parts.rules?.get(rel.oid) ?? []).map(toRule), (r) => r.name)),
    ...withSome('statistics', sortBy((parts.statistics?.get(rel.oid) ?? []).map(toStatistics), (x) => `${x.schema}.${x.name}`)),
    dependsOn: { types: [], functions: [], sequences: [], extensions: [] },
  };
}

function withSome<K extends string, T>(key: K, items: T[]): { [P in K]?: T[] } {
  return (items.length > 0 ? { [key]: items } : {}) as { [P in K]?: T[] };
}
