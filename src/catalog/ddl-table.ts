import type { Column, Constraint, QualifiedName, Sequence, Table } from './model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { reloptionsSql } from './ddl-options.js';

/** `ALTER TABLE ONLY t` for plain tables, `ALTER TABLE t` for partitioned ones (ONLY would not recurse). */
export function alterTable(t: Table): string {
  return `ALTER TABLE ${t.kind === 'p' ? '' : 'ONLY '}${qname(t)}`;
}

/** `SEQUENCE NAME ... START WITH ...`: every option, so the target's sequence equals the source's. */
export function sequenceOptions(s: Sequence, withName: boolean): string {
  const parts: string[] = [];
  if (withName) parts.push(`SEQUENCE NAME ${qname(s)}`);
  parts.push(`START WITH ${s.start}`, `INCREMENT BY ${s.increment}`, `MINVALUE ${s.min}`, `MAXVALUE ${s.max}`, `CACHE ${s.cache}`);
  parts.push(s.cycle ? 'CYCLE' : 'NO CYCLE');
  return parts.join(' ');
}

export function createSequenceSql(s: Sequence): string {
  return `CREATE ${s.unlogged ? 'UNLOGGED ' : ''}SEQUENCE ${qname(s)} AS ${s.dataType} ${sequenceOptions(s, false)}`;
}

/** 18+: the named NOT NULL constraint of a column, when the model keeps one. */
function notNullConstraint(t: Table, column: string): Constraint | undefined {
  return t.constraints.find((c) => c.type === 'n' && c.columns[0] === column);
}

function notNullSql(t: Table, c: Column): string {
  const named = notNullConstraint(t, c.name);
  if (named && named.validated && !named.inherited) {
    return ` CONSTRAINT ${ident(named.name)} NOT NULL${/\bNO INHERIT\b/.test(named.definition) ? ' NO INHERIT' : ''}`;
  }
  return c.notNull ? ' NOT NULL' : '';
}

function columnSql(t: Table, c: Column, sequences: Map<string, Sequence>): string {
  let sql = `${ident(c.name)} ${c.type}`;
  if (c.collation) sql += ` COLLATE ${c.collation}`;
  if (c.generated) sql += ` GENERATED ALWAYS AS (${c.generated.expression}) ${c.generated.kind === 'v' ? 'VIRTUAL' : 'STORED'}`;
  if (c.identity) {
    const seq = sequences.get(c.identity.sequence);
    sql += ` GENERATED ${c.identity.kind === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
    if (seq) sql += ` (${sequenceOptions(seq, true)})`;
  }
  if (c.default !== null) sql += ` DEFAULT ${c.default}`;
  return sql + notNullSql(t, c);
}

/** Column entries of a partition that differ from what PARTITION OF gives it (the parent's). */
function partitionColumnSql(t: Table, c: Column, parent: Table | undefined): string | null {
  const p = parent?.columns.find((x) => x.name === c.name);
  const parts: string[] = [];
  if (c.default !== null && c.default !== (p?.default ?? null)) parts.push(`DEFAULT ${c.default}`);
  const named = notNullConstraint(t, c.name);
  if (named && named.validated) parts.push(`CONSTRAINT ${ident(named.name)} NOT NULL`);
  else if (c.notNull && !(p?.notNull ?? false)) parts.push('NOT NULL');
  return parts.length > 0 ? `${ident(c.name)} WITH OPTIONS ${parts.join(' ')}` : null;
}

export interface CreateTableContext {
  /** A table of the catalog (parents of partitions and inheritance children). */
  lookup: (q: QualifiedName) => Table | undefined;
  /** Whether a table is created by the same rendering (else a partition is created as a plain table). */
  created: (q: QualifiedName) => boolean;
  sequences: Map<string, Sequence>;
  extraColumns: Array<{ name: string; type: string }>;
}

/** A partition whose parent is created too: PARTITION OF gives it columns, CHECKs and NOT NULLs. */
export function asPartition(t: Table, ctx: Pick<CreateTableContext, 'created'>): boolean {
  return t.partitionOf !== null && ctx.created(t.partitionOf.parent);
}

/** CREATE TABLE with columns, validated local CHECKs, partitioning, inheritance and storage options. */
export function createTableSql(t: Table, ctx: CreateTableContext): string {
  const partition = asPartition(t, ctx);
  const checks = t.constraints
    .filter((c) => c.type === 'c' && c.validated && (!c.inherited || (t.partitionOf !== null && !partition)))
    .map((c) => `CONSTRAINT ${ident(c.name)} ${c.definition}`);
  const head = `CREATE ${t.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${qname(t)}`;
  let sql: string;
  if (partition) {
    const parent = ctx.lookup(t.partitionOf!.parent);
    const cols = t.columns.flatMap((c) => partitionColumnSql(t, c, parent) ?? []);
    const items = [...cols, ...checks];
    sql = `${head} PARTITION OF ${qname(t.partitionOf!.parent)}${items.length ? ` (\n    ${items.join(',\n    ')}\n)` : ''} ${t.partitionOf!.bound}`;
  } else {
    const own = t.columns.filter((c) => !c.inherited || t.partitionOf !== null);
    const extra = t.partitionOf ? [] : ctx.extraColumns.map((e) => `${ident(e.name)} ${e.type}`);
    // A child's own column that a parent makes generated the same way inherits that: declaring it again is refused (before 16).
    const parents = t.partitionOf ? [] : t.inherits.map((q) => ctx.lookup(q));
    const inheritsGeneration = (c: Column) =>
      c.generated !== null && parents.some((p) => { const g = p?.columns.find((y) => y.name === c.name)?.generated; return g?.kind === c.generated!.kind && g.expression === c.generated!.expression; });
    const items = [...own.map((c) => columnSql(t, inheritsGeneration(c) ? { ...c, generated: null } : c, ctx.sequences)), ...extra, ...checks];
    sql = `${head} (\n    ${items.join(',\n    ')}\n)`;
    if (t.inherits.length > 0) sql += ` INHERITS (${t.inherits.map(qname).join(', ')})`;
  }
  if (t.kind === 'p' && t.partitionKey) sql += ` PARTITION BY ${t.partitionKey}`;
  if (t.accessMethod) sql += ` USING ${ident(t.accessMethod)}`;
  const options = [...t.reloptions, ...t.toastReloptions.map((o) => `toast.${o}`)];
  if (options.length > 0) sql += ` WITH (${reloptionsSql(options)})`;
  return sql;
}

/**
 * CREATE TABLE ... PARTITION OF / INHERITS gives a child its parent's column defaults;
 * a child that has none of its own in the source (created on its own, then attached,
 * or its default dropped) must lose them again, or the target would accept inserts
 * the source refuses.
 */
function droppedDefaultsSql(t: Table, ctx: CreateTableContext): string[] {
  let parents: Array<Table | undefined> = [];
  if (asPartition(t, ctx)) parents = [ctx.lookup(t.partitionOf!.parent)];
  else if (!t.partitionOf) parents = t.inherits.map((q) => ctx.lookup(q));
  return t.columns
    .filter((c) => c.default === null && !c.generated && !c.identity)
    .filter((c) => parents.some((p) => (p?.columns.find((y) => y.name === c.name)?.default ?? null) !== null))
    .map((c) => `${alterTable(t)} ALTER COLUMN ${ident(c.name)} DROP DEFAULT`);
}

/** What CREATE TABLE cannot say: inherited columns' own defaults (or their absence) and NOT NULLs, per-column settings, comments. */
export function tableTailSql(t: Table, ctx: CreateTableContext): string[] {
  const out: string[] = [];
  const alter = alterTable(t);
  if (t.inherits.length > 0 && !t.partitionOf) {
    const parents = t.inherits.map((q) => ctx.lookup(q));
    for (const c of t.columns.filter((x) => x.inherited)) {
      const p = parents.flatMap((x) => x?.columns.find((y) => y.name === c.name) ?? [])[0];
      if (c.default !== null && c.default !== (p?.default ?? null)) out.push(`${alter} ALTER COLUMN ${ident(c.name)} SET DEFAULT ${c.default}`);
      if (c.notNull && !(p?.notNull ?? false)) out.push(`${alter} ALTER COLUMN ${ident(c.name)} SET NOT NULL`);
    }
  }
  out.push(...droppedDefaultsSql(t, ctx));
  // CREATE TABLE ... INHERITS / PARTITION OF copies the parent's column compression
  // (14+), while SET COMPRESSION on a parent never reaches existing children: a child
  // left at the default must be set back to it, or it would get the parent's method.
  let createdFrom: Array<Table | undefined> = [];
  if (asPartition(t, ctx)) createdFrom = [ctx.lookup(t.partitionOf!.parent)];
  else if (!t.partitionOf) createdFrom = t.inherits.map((q) => ctx.lookup(q));
  for (const c of t.columns.filter((x) => x.inherited && x.compression === null)) {
    if (createdFrom.some((p) => p?.columns.find((y) => y.name === c.name)?.compression)) {
      out.push(`${alter} ALTER COLUMN ${ident(c.name)} SET COMPRESSION default`);
    }
  }
  for (const c of t.columns) {
    const col = `${alter} ALTER COLUMN ${ident(c.name)}`;
    if (c.statistics !== null) out.push(`${col} SET STATISTICS ${c.statistics}`);
    if (c.storage) out.push(`${col} SET STORAGE ${c.storage}`);
    if (c.compression) out.push(`${col} SET COMPRESSION ${c.compression}`);
    if (c.options.length > 0) out.push(`${col} SET (${reloptionsSql(c.options)})`);
  }
  if (t.comment !== null) out.push(`COMMENT ON TABLE ${qname(t)} IS ${literal(t.comment)}`);
  for (const c of t.columns) {
    if (c.comment !== null) out.push(`COMMENT ON COLUMN ${qname(t)}.${ident(c.name)} IS ${literal(c.comment)}`);
  }
  return out;
}
