import type { Catalog, FunctionDef, QualifiedName, Table, View } from './model.js';
import { functionKey, routineWord, tableKey } from './model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { creationOrder, dependencyClosure, type Closure } from './closure.js';
import { asPartition, createSequenceSql, createTableSql, tableTailSql, type CreateTableContext } from './ddl-table.js';
import { foreignKeySql, indexPhase, otherPhase } from './ddl-post.js';
import { reloptionsSql } from './ddl-options.js';

/**
 * Pure DDL rendering of a catalog (no I/O). Every identifier is quoted; every
 * expression comes from the server's own pg_get_*def output.
 *
 * Partition trees: a partition is created with PARTITION OF when its parent is
 * rendered too (it then gets the parent's columns, CHECKs and NOT NULLs), else as
 * a plain table with everything of its own.
 */

function tablesOf(catalog: Catalog, keys: string[]): { byKey: Map<string, Table>; selected: Table[] } {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const selected = [...new Set(keys)].map((k) => {
    const t = byKey.get(k);
    if (!t) throw new Error(`table ${k} is not in the catalog`);
    return t;
  });
  return { byKey, selected };
}

/** Parents (partitioned or inherited) before children, otherwise by key. */
function parentsFirst(tables: Table[]): Table[] {
  const byKey = new Map(tables.map((t) => [tableKey(t), t]));
  const out: Table[] = [];
  const done = new Set<string>();
  const visit = (t: Table) => {
    const k = tableKey(t);
    if (done.has(k)) return;
    done.add(k);
    const parents = t.partitionOf ? [t.partitionOf.parent] : t.inherits;
    for (const p of parents) {
      const pt = byKey.get(tableKey(p));
      if (pt) visit(pt);
    }
    out.push(t);
  };
  for (const k of [...byKey.keys()].sort()) visit(byKey.get(k)!);
  return out;
}

function commentOn(kind: string, target: string, comment: string | null): string[] {
  return comment === null ? [] : [`COMMENT ON ${kind} ${target} IS ${literal(comment)}`];
}

/** What follows `COMMENT ON FUNCTION|PROCEDURE|AGGREGATE`: `name(args)`; an aggregate without arguments is `name(*)`. */
export function routineName(f: FunctionDef): string {
  return `${qname(f)}(${f.kind === 'a' && f.identityArgs === '' ? '*' : f.identityArgs})`;
}

/** Comments of the schemas a database gets (`public` only when it differs from the comment every new database has). */
function schemaComments(catalog: Catalog, schemas: Set<string>): string[] {
  return (catalog.namespaces ?? [])
    .filter((n) => schemas.has(n.name) && n.comment !== null && !(n.name === 'public' && n.comment === 'standard public schema'))
    .map((n) => `COMMENT ON SCHEMA ${ident(n.name)} IS ${literal(n.comment!)}`);
}

/** `ALTER DOMAIN ... NOT VALID` checks must follow the data: they are left out of the pre-data. */
const isAfterData = (sql: string): boolean => sql.startsWith('ALTER DOMAIN ');

/**
 * Pre-data: schemas (with their comments), extensions, types and functions
 * (dependency order), sequences, tables (columns, defaults, identity, generated
 * columns, validated CHECKs, partitioning, inheritance, options) and their comments.
 * No keys, indexes, triggers or foreign keys: those follow the data (`renderPostData`).
 * `extraColumns` (by table key) adds nullable denormalized columns. `objects` adds
 * what views, functions, types and sequences (by key) need, and those themselves.
 */
export function renderPreData(
  catalog: Catalog,
  tableKeys: string[],
  opts: { extraColumns?: Record<string, Array<{ name: string; type: string }>>; objects?: string[] } = {},
): string[] {
  const parts = renderPreDataParts(catalog, tableKeys, opts);
  return [...parts.setup, ...parts.objects];
}

/**
 * `renderPreData` in two parts: `setup` (schemas, their comments, extensions) and `objects`
 * (types, functions, sequences, tables), so that what the objects name (a text search
 * configuration over an extension's dictionary) can be made between them.
 */
export function renderPreDataParts(
  catalog: Catalog,
  tableKeys: string[],
  opts: { extraColumns?: Record<string, Array<{ name: string; type: string }>>; objects?: string[]; closure?: Closure } = {},
): { setup: string[]; objects: string[] } {
  const { byKey, selected } = tablesOf(catalog, tableKeys);
  // The plan passes the closure it made (with what its denormalized columns' types need).
  const closure = opts.closure ?? dependencyClosure(catalog, [...tableKeys, ...(opts.objects ?? [])]);
  const out: string[] = [];
  const schemas = new Set<string>([
    ...selected.map((t) => t.schema),
    ...closure.types.map((t) => t.schema),
    ...closure.functions.map((f) => f.schema),
    ...closure.sequences.map((s) => s.schema),
    ...closure.extensions.map((e) => e.schema),
    // Views are created after the data, in their own schema: it must exist by then.
    ...catalog.views.filter((v) => (opts.objects ?? []).includes(tableKey(v))).map((v) => v.schema),
  ]);
  for (const s of [...schemas].filter((x) => x !== 'public').sort()) out.push(`CREATE SCHEMA IF NOT EXISTS ${ident(s)}`);
  out.push(...schemaComments(catalog, schemas));
  for (const e of closure.extensions) out.push(`CREATE EXTENSION IF NOT EXISTS ${ident(e.name)} WITH SCHEMA ${ident(e.schema)}`);
  const setup = out.splice(0);
  if (closure.functions.length > 0) out.push('SET check_function_bodies = false');
  const later = afterTables(closure, selected);
  const withViews = new Set(functionsAfterViews(catalog, closure.functions));
  for (const r of creationOrder(closure.types, closure.functions)) {
    if (r.kind === 'type') {
      out.push(...r.def.ddl.filter((s) => !isAfterData(s)));
      out.push(...commentOn(r.def.kind === 'domain' ? 'DOMAIN' : 'TYPE', qname(r.def), r.def.comment));
    } else if (!later.has(r.def) && !withViews.has(r.def)) {
      out.push(...functionSql(r.def));
    }
  }
  for (const s of closure.sequences) {
    if (s.identity) continue;
    out.push(createSequenceSql(s), ...commentOn('SEQUENCE', qname(s), s.comment));
  }
  const keys = new Set(selected.map(tableKey));
  const ctx: Omit<CreateTableContext, 'extraColumns'> = {
    lookup: (q: QualifiedName) => byKey.get(tableKey(q)),
    created: (q: QualifiedName) => keys.has(tableKey(q)),
    sequences: new Map(catalog.sequences.map((s) => [tableKey(s), s])),
  };
  for (const t of parentsFirst(selected)) {
    const c = { ...ctx, extraColumns: opts.extraColumns?.[tableKey(t)] ?? [] };
    out.push(createTableSql(t, c), ...tableTailSql(t, c));
    for (const col of t.columns) {
      const seq = col.identity ? ctx.sequences.get(col.identity.sequence) : undefined;
      if (seq && !col.inherited) out.push(...commentOn('SEQUENCE', qname(seq), seq.comment));
    }
  }
  for (const f of closure.functions) if (later.has(f) && !withViews.has(f)) out.push(...functionSql(f));
  return { setup, objects: out };
}

const functionSql = (f: FunctionDef): string[] => [f.ddl, ...commentOn(routineWord(f), routineName(f), f.comment)];

/** A SQL-standard body (`BEGIN ATOMIC ... END` or `RETURN ...`, 14+): parsed, and its tables looked up, at CREATE. */
export function hasSqlStandardBody(f: FunctionDef): boolean {
  // pg_get_functiondef writes every other body on a line of its own starting `AS $function$`
  // (or `AS 'file', 'symbol'`); a SQL-standard one as `BEGIN ATOMIC` or `RETURN`.
  return !/\nAS /.test(f.ddl) && /\n(BEGIN ATOMIC|RETURN )/.test(f.ddl);
}

/**
 * Functions with a SQL-standard body that may wait until the tables exist: such a
 * body is checked when the function is created (check_function_bodies does not
 * apply), so one that reads a table fails before it. Kept in place when a type, a
 * function with such a body, or a column default, generated column or CHECK of the
 * tables names it (they need it first).
 */
function sqlBodiesAfterTables(closure: Closure, tables: Table[]): Set<FunctionDef> {
  const candidates = closure.functions.filter(hasSqlStandardBody);
  if (candidates.length === 0) return new Set();
  const early = new Set<string>(closure.types.flatMap((t) => t.dependsOn));
  const expressions = tables.flatMap((t) => [
    ...t.columns.flatMap((c) => [c.default ?? '', c.generated?.expression ?? '']),
    ...t.constraints.filter((k) => k.type === 'c').map((k) => k.definition),
  ]);
  const named = (f: FunctionDef) => expressions.some((e) => e.includes(`${f.name}(`) || e.includes(`${ident(f.name)}(`));
  const later = new Set(candidates.filter((f) => !early.has(functionKey(f)) && !named(f)));
  // A deferred function needed by one that stays early must stay early too.
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of closure.functions) {
      if (later.has(f) || !hasSqlStandardBody(f)) continue;
      for (const dep of f.dependsOn) {
        const d = [...later].find((x) => functionKey(x) === dep);
        if (d) {
          later.delete(d);
          changed = true;
        }
      }
    }
  }
  return later;
}

/**
 * Functions created after the tables: the SQL-standard bodies that may wait (see
 * `sqlBodiesAfterTables`), those whose arguments or result use a table's row type
 * (`find_ci_builds_by_id(bigint) RETURNS ci_builds`), and every function that needs
 * one of those (an aggregate over such a state function).
 */
function afterTables(closure: Closure, tables: Table[]): Set<FunctionDef> {
  const later = sqlBodiesAfterTables(closure, tables);
  for (const f of closure.functions) if ((f.rowTypes ?? []).length > 0) later.add(f);
  for (let changed = true; changed; ) {
    changed = false;
    const keys = new Set([...later].map(functionKey));
    for (const f of closure.functions) {
      if (!later.has(f) && f.dependsOn.some((d) => keys.has(d))) {
        later.add(f);
        changed = true;
      }
    }
  }
  return later;
}

/**
 * Functions that use a view's row type (`RETURNS SETOF film_list`), and every function
 * that needs one of those: views are created after the data, so these are created
 * with the views, each after the views whose row type it uses (`renderViews`).
 */
export function functionsAfterViews(catalog: Catalog, functions: readonly FunctionDef[]): FunctionDef[] {
  const views = new Set(catalog.views.map(tableKey));
  const later = new Set(functions.filter((f) => (f.rowTypes ?? []).some((k) => views.has(k))));
  for (let changed = true; changed; ) {
    changed = false;
    const keys = new Set([...later].map(functionKey));
    for (const f of functions) {
      if (!later.has(f) && f.dependsOn.some((d) => keys.has(d))) {
        later.add(f);
        changed = true;
      }
    }
  }
  return functions.filter((f) => later.has(f));
}

export interface PostData {
  /**
   * Per table key: keys, indexes, CLUSTER, REPLICA IDENTITY, NOT VALID checks,
   * triggers, row-level security and policies, with their comments. A partition
   * tree is rendered whole under its root's key (partitions' keys and indexes
   * first, so that the parents' attach them; then parents' triggers before the
   * partitions' own); the partitions' keys map to empty lists.
   */
  perTable: Record<string, string[]>;
  /** Foreign keys kept by `keepForeignKey`, never the ones a partition inherits. */
  foreignKeys: string[];
  /**
   * ALTER SEQUENCE ... OWNED BY for the serial sequences of these tables, then the
   * NOT VALID checks of their domains (statements that follow all the data).
   */
  sequenceOwnership: string[];
  views?: string[];
}

/** Post-data of the given tables (see `PostData`). Foreign keys default to those whose referenced table is in the set. */
export function renderPostData(
  catalog: Catalog,
  tableKeys: string[],
  opts: { keepForeignKey?: (table: Table, fk: Table['constraints'][number]) => boolean } = {},
): PostData {
  const { selected } = tablesOf(catalog, tableKeys);
  const keys = new Set(selected.map(tableKey));
  const created = (q: QualifiedName) => keys.has(tableKey(q));
  const children = new Map<string, Table[]>();
  for (const t of selected) {
    if (!asPartition(t, { created })) continue;
    const p = tableKey(t.partitionOf!.parent);
    children.set(p, [...(children.get(p) ?? []), t]);
  }
  const perTable: Record<string, string[]> = {};
  for (const t of selected) perTable[tableKey(t)] = [];
  for (const root of selected.filter((t) => !asPartition(t, { created }))) {
    const tree: Table[] = [];
    const walk = (t: Table) => {
      tree.push(t);
      for (const c of (children.get(tableKey(t)) ?? []).sort((a, b) => (tableKey(a) < tableKey(b) ? -1 : 1))) walk(c);
    };
    walk(root);
    perTable[tableKey(root)] = [
      ...[...tree].reverse().flatMap(indexPhase),
      ...tree.flatMap((t) => otherPhase(t, { partition: asPartition(t, { created }) })),
    ];
  }
  const keep = opts.keepForeignKey ?? ((_t: Table, fk: Table['constraints'][number]) => !!fk.references && keys.has(tableKey(fk.references.table)));
  const foreignKeys: string[] = [];
  for (const t of [...selected].sort((a, b) => (tableKey(a) < tableKey(b) ? -1 : 1))) {
    const standalone = t.partitionOf !== null && !asPartition(t, { created });
    for (const fk of t.constraints) {
      if (fk.type !== 'f' || (fk.inherited && !standalone) || !keep(t, fk)) continue;
      foreignKeys.push(...foreignKeySql(t, fk));
    }
  }
  const closure = dependencyClosure(catalog, tableKeys);
  const sequenceOwnership = closure.sequences
    .filter((s) => !s.identity && s.ownedBy && keys.has(tableKey(s.ownedBy.table)))
    .map((s) => `ALTER SEQUENCE ${qname(s)} OWNED BY ${qname(s.ownedBy!.table)}.${ident(s.ownedBy!.column)}`);
  for (const t of closure.types) sequenceOwnership.push(...t.ddl.filter(isAfterData));
  return { perTable, foreignKeys, sequenceOwnership };
}

type ViewItem = { kind: 'view'; def: View } | { kind: 'function'; def: FunctionDef };

/**
 * Views before the views that read them, and functions using a view's row type after
 * that view and before the views that call them; then by key.
 */
function viewOrder(views: View[], functions: readonly FunctionDef[] = []): ViewItem[] {
  const byKey = new Map<string, ViewItem>([
    ...views.map((v): [string, ViewItem] => [tableKey(v), { kind: 'view', def: v }]),
    ...functions.map((f): [string, ViewItem] => [functionKey(f), { kind: 'function', def: f }]),
  ]);
  const needs = (item: ViewItem): string[] =>
    item.kind === 'view'
      ? [...item.def.dependsOn, ...(item.def.uses?.functions ?? [])]
      : [...(item.def.rowTypes ?? []), ...item.def.dependsOn];
  const out: ViewItem[] = [];
  const done = new Set<string>();
  const visit = (key: string, item: ViewItem) => {
    if (done.has(key)) return;
    done.add(key);
    for (const d of [...needs(item)].sort()) {
      const dep = byKey.get(d);
      if (dep) visit(d, dep);
    }
    out.push(item);
  };
  for (const k of [...byKey.keys()].sort()) visit(k, byKey.get(k)!);
  return out;
}

/**
 * CREATE VIEW / CREATE MATERIALIZED VIEW (WITH DATA: views are created after the
 * data) in dependency order, with comments. Functions and aggregates the views
 * need are (re)created first with CREATE OR REPLACE, since no table may have
 * needed them; `routines: false` leaves that out when the pre-data was given the
 * views as `objects` and created them already, all but `functions`: those using a
 * view's row type (`functionsAfterViews`), created here in dependency order.
 */
export function renderViews(catalog: Catalog, viewKeys: string[], opts: { routines?: boolean; functions?: readonly FunctionDef[] } = {}): string[] {
  const byKey = new Map(catalog.views.map((v) => [tableKey(v), v]));
  const views = [...new Set(viewKeys)].map((k) => {
    const v = byKey.get(k);
    if (!v) throw new Error(`view ${k} is not in the catalog`);
    return v;
  });
  const out: string[] = [];
  // An aggregate needs its state and final functions: the whole function closure, in creation order.
  const routines = opts.routines === false ? [] : dependencyClosure(catalog, views.map(tableKey)).functions;
  // Those using a view's row type wait for that view.
  const deferred = opts.routines === false ? (opts.functions ?? []) : functionsAfterViews(catalog, routines);
  const first = routines.filter((f) => !deferred.includes(f));
  if (first.length + deferred.length > 0) out.push('SET check_function_bodies = false', ...first.map((f) => f.ddl));
  for (const item of viewOrder(views, deferred)) {
    if (item.kind === 'function') {
      out.push(...functionSql(item.def));
      continue;
    }
    const v = item.def;
    const body = v.definition.trim().replace(/;$/, '');
    const options = v.options && v.options.length > 0 ? ` WITH (${reloptionsSql(v.options)})` : '';
    const kind = v.materialized ? 'MATERIALIZED VIEW' : 'VIEW';
    // Filled by running its query in the new database (its rows as of now there), unless the source never filled it.
    out.push(`CREATE ${kind} ${qname(v)}${options} AS\n${body}${v.materialized ? (v.populated === false ? '\nWITH NO DATA' : '\nWITH DATA') : ''}`);
    out.push(...commentOn(kind, qname(v), v.comment));
    for (const d of v.columnDefaults ?? []) out.push(`ALTER VIEW ${qname(v)} ALTER COLUMN ${ident(d.column)} SET DEFAULT ${d.default}`);
    for (const i of v.indexes ?? []) {
      out.push(i.definition, ...commentOn('INDEX', qname({ schema: v.schema, name: i.name }), i.comment));
      if (i.clustered) out.push(`ALTER MATERIALIZED VIEW ${qname(v)} CLUSTER ON ${ident(i.name)}`);
    }
  }
  return out;
}
