import type { Column, Constraint, Table } from '../catalog/model.js';
import { automaticForeignKeyDiffs, copiesDroppedKey, isAutomaticForeignKey, type DroppedKeyFamily } from './partition-keys.js';

/** What the target is expected to differ by, on purpose. */
export interface SchemaExpectations {
  /** Constraints left out of the target: the dropped cross-service (and copy) foreign keys. */
  droppedConstraints: readonly string[];
  /** Denormalized columns added to the target table. */
  extraColumns: ReadonlyArray<{ name: string; type: string }>;
  /** Triggers of the source that are not copied (the fence). */
  ignoredTriggers: readonly string[];
  /** The dropped foreign keys whose automatic per-partition copies are left out too. */
  droppedKeyFamilies?: readonly DroppedKeyFamily[];
}

/** Collapses whitespace so that equal definitions compare equal whatever their layout. */
export function normaliseDefinition(def: string): string {
  return def.replace(/\s+/g, ' ').trim();
}

/** A type name without identifier quotes: a planned `text` equals the catalog's `"text"`. */
export function normaliseType(type: string): string {
  return normaliseDefinition(type.replace(/"((?:[^"]|"")*)"/g, (_m, body: string) => body.replaceAll('""', '"')));
}

/**
 * A definition that reads differently on the two sides. The server may still treat the
 * two as the same (PostgreSQL's deparse is not a fixed point, and differs between
 * majors): `schema.ts` re-creates `source` on the target server to decide.
 */
export interface DefinitionDifference {
  kind: 'constraint' | 'index' | 'default';
  /** Constraint or index name; the column name for a default. */
  name: string;
  source: string;
  target: string;
}

/** One difference, as the line verify prints, and the definitions behind it when it is only a matter of text. */
export interface TableDifference {
  text: string;
  definition?: DefinitionDifference;
}

const show = (v: string | null | undefined): string => (v === null || v === undefined ? 'NULL' : v);

function compareNamed<T extends { name: string }>(
  what: string,
  source: readonly T[],
  target: readonly T[],
  same: (a: T, b: T) => string | null,
  definition?: (a: T, b: T) => DefinitionDifference | undefined,
): TableDifference[] {
  const out: TableDifference[] = [];
  const byName = new Map(target.map((x) => [x.name, x]));
  for (const s of source) {
    const t = byName.get(s.name);
    if (!t) out.push({ text: `${what} ${s.name} missing in target` });
    else {
      const diff = same(s, t);
      if (diff) {
        const d = definition?.(s, t);
        out.push(d ? { text: `${what} ${s.name} ${diff}`, definition: d } : { text: `${what} ${s.name} ${diff}` });
      }
    }
  }
  const names = new Set(source.map((s) => s.name));
  for (const t of target) if (!names.has(t.name)) out.push({ text: `${what} ${t.name} unexpected in target` });
  return out;
}

function differs(label: string, a: string | null | undefined, b: string | null | undefined): string | null {
  return (a ?? null) === (b ?? null) ? null : `${label} differs: source ${show(a)} target ${show(b)}`;
}

function columnDiffs(table: string, s: Column, t: Column): TableDifference[] {
  const out: TableDifference[] = [];
  const name = `column ${table}.${s.name}`;
  const push = (d: string | null) => d && out.push({ text: `${name} ${d}` });
  if (normaliseType(s.type) !== normaliseType(t.type)) push(`type differs: source ${s.type} target ${t.type}`);
  push(differs('nullability', s.notNull ? 'NOT NULL' : 'NULL', t.notNull ? 'NOT NULL' : 'NULL'));
  const dflt = differs('default', s.default, t.default);
  if (dflt && s.default !== null && t.default !== null) {
    out.push({ text: `${name} ${dflt}`, definition: { kind: 'default', name: s.name, source: s.default, target: t.default } });
  } else push(dflt);
  push(differs('identity', s.identity ? `GENERATED ${s.identity.kind === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY` : null, t.identity ? `GENERATED ${t.identity.kind === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY` : null));
  push(differs('generated expression', s.generated ? `${s.generated.expression} (${s.generated.kind === 's' ? 'STORED' : 'VIRTUAL'})` : null, t.generated ? `${t.generated.expression} (${t.generated.kind === 's' ? 'STORED' : 'VIRTUAL'})` : null));
  push(differs('collation', s.collation, t.collation));
  push(differs('options', s.options.join(', ') || null, t.options.join(', ') || null));
  push(differs('statistics target', s.statistics === null ? null : String(s.statistics), t.statistics === null ? null : String(t.statistics)));
  push(differs('storage', s.storage, t.storage));
  const method = (c: string | null) => (c === null ? null : ({ p: 'pglz', l: 'lz4' } as Record<string, string>)[c] ?? c);
  push(differs('compression', method(s.compression), method(t.compression)));
  push(differs('comment', s.comment, t.comment));
  return out;
}

/**
 * Every difference between a source table and its copy in a target, each named in one
 * line ("index devices_user_id_idx missing in target", "column devices.status default
 * differs: source 'x'::text target NULL"), less the expected ones. NOT NULL constraints
 * are compared through column nullability (servers before 18 have none in pg_constraint).
 */
export function compareTables(source: Table, target: Table | undefined, expect: SchemaExpectations): string[] {
  return tableDifferences(source, target, expect).map((d) => d.text);
}

/** The same differences, each with the two definitions when only their text differs. */
export function tableDifferences(source: Table, target: Table | undefined, expect: SchemaExpectations): TableDifference[] {
  if (!target) return [{ text: `table ${source.schema}.${source.name} missing in target` }];
  const out: TableDifference[] = [];
  const line = (text: string): void => {
    out.push({ text });
  };
  const table = source.name;
  const extra = new Map(expect.extraColumns.map((c) => [c.name, c]));
  const targetCols = new Map(target.columns.map((c) => [c.name, c]));
  for (const s of source.columns) {
    const t = targetCols.get(s.name);
    if (!t) line(`column ${table}.${s.name} missing in target`);
    else out.push(...columnDiffs(table, s, t));
  }
  const sourceCols = new Set(source.columns.map((c) => c.name));
  for (const t of target.columns) {
    if (sourceCols.has(t.name)) continue;
    const e = extra.get(t.name);
    if (!e) line(`column ${table}.${t.name} unexpected in target`);
    else if (normaliseType(e.type) !== normaliseType(t.type)) line(`denormalized column ${table}.${t.name} type differs: planned ${e.type} target ${t.type}`);
  }
  for (const e of expect.extraColumns) {
    if (!targetCols.has(e.name)) line(`denormalized column ${table}.${e.name} missing in target`);
  }

  const dropped = new Set(expect.droppedConstraints);
  const families = expect.droppedKeyFamilies ?? [];
  const constraints = (t: Table, isSource: boolean) =>
    t.constraints.filter((c) => c.type !== 'n' && !(isSource && (dropped.has(c.name) || copiesDroppedKey(c, families))));
  const [sourceKeys, targetKeys] = [constraints(source, true), constraints(target, false)];
  const named = (list: Constraint[]) => list.filter((c) => !isAutomaticForeignKey(c));
  out.push(
    ...compareNamed(
      'constraint',
      named(sourceKeys),
      named(targetKeys),
      (a, b) => differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)),
      (a, b) => ({ kind: 'constraint', name: a.name, source: a.definition, target: b.definition }),
    ),
  );
  out.push(...automaticForeignKeyDiffs(sourceKeys, targetKeys, (c) => normaliseDefinition(c.definition)).map((text) => ({ text })));
  out.push(
    ...compareNamed(
      'index',
      source.indexes,
      target.indexes,
      (a, b) =>
        differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)) ??
        differs('statistics targets', (a.statistics ?? []).map((x) => `${x.column}=${x.target}`).join(', ') || null, (b.statistics ?? []).map((x) => `${x.column}=${x.target}`).join(', ') || null),
      (a, b) => ({ kind: 'index', name: a.name, source: a.definition, target: b.definition }),
    ),
  );
  const ignored = new Set(expect.ignoredTriggers);
  out.push(
    ...compareNamed(
      'trigger',
      source.triggers.filter((x) => !ignored.has(x.name)),
      target.triggers.filter((x) => !ignored.has(x.name)),
      (a, b) => differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)) ?? differs('enabled state', a.enabled, b.enabled),
    ),
  );
  out.push(
    ...compareNamed('policy', source.policies, target.policies, (a, b) =>
      differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)),
    ),
  );
  out.push(
    ...compareNamed('rule', source.rules ?? [], target.rules ?? [], (a, b) =>
      differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)) ?? differs('enabled state', a.enabled, b.enabled),
    ),
  );
  const statistics = (t: Table) => (t.statistics ?? []).map((x) => ({ ...x, name: `${x.schema}.${x.name}` }));
  out.push(
    ...compareNamed('statistics', statistics(source), statistics(target), (a, b) =>
      differs('definition', normaliseDefinition(a.definition), normaliseDefinition(b.definition)) ?? differs('target', String(a.target), String(b.target)),
    ),
  );
  // Comments of the constraints, indexes, triggers and policies both sides have (apply carries them).
  const comments = <T extends { name: string; comment: string | null }>(what: string, s: readonly T[], t: readonly T[]) => {
    const byName = new Map(t.map((x) => [x.name, x]));
    for (const a of s) {
      const b = byName.get(a.name);
      const d = b ? differs('comment', a.comment, b.comment) : null;
      if (d) line(`${what} ${a.name} ${d}`);
    }
  };
  comments('constraint', named(sourceKeys), named(targetKeys));
  comments('index', source.indexes, target.indexes);
  comments('trigger', source.triggers.filter((x) => !ignored.has(x.name)), target.triggers);
  comments('policy', source.policies, target.policies);
  comments('rule', source.rules ?? [], target.rules ?? []);
  comments('statistics', statistics(source), statistics(target));
  if (source.rowSecurity !== target.rowSecurity) line(`row level security on ${table} differs: source ${source.rowSecurity ? 'enabled' : 'disabled'} target ${target.rowSecurity ? 'enabled' : 'disabled'}`);
  if (source.forceRowSecurity !== target.forceRowSecurity) line(`forced row level security on ${table} differs: source ${source.forceRowSecurity} target ${target.forceRowSecurity}`);
  // An UNLOGGED table loses its rows in a crash; a LOGGED one where the source's was not is slower and replicated.
  if (source.persistence !== target.persistence) line(`${table} is ${source.persistence === 'u' ? 'UNLOGGED' : 'LOGGED'} in the source but ${target.persistence === 'u' ? 'UNLOGGED' : 'LOGGED'} in the target`);
  const am = differs('access method', source.accessMethod ?? 'heap', target.accessMethod ?? 'heap');
  if (am) line(`${table} ${am}`);
  const identity = (t: Table) => (t.replicaIdentity === 'i' ? `USING INDEX ${t.replicaIdentityIndex ?? '?'}` : { d: 'DEFAULT', n: 'NOTHING', f: 'FULL', i: '' }[t.replicaIdentity]);
  const ri = differs('replica identity', identity(source), identity(target));
  if (ri) line(`${table} ${ri}`);
  const storage = differs('storage parameters', [...source.reloptions].sort().join(', ') || null, [...target.reloptions].sort().join(', ') || null);
  if (storage) line(`${table} ${storage}`);
  const toast = differs('TOAST storage parameters', [...source.toastReloptions].sort().join(', ') || null, [...target.toastReloptions].sort().join(', ') || null);
  if (toast) line(`${table} ${toast}`);
  return out;
}
