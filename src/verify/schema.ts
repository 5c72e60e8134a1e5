import { READ_ONLY_COPY_TRIGGER } from '../plan/read-only-copies.js';
import type pg from 'pg';
import { introspect } from '../catalog/introspect.js';
import { parseKey, tableKey, type Catalog, type Table, type TypeDef, type View } from '../catalog/model.js';
import { FENCE_ROWS_TRIGGER, FENCE_TRIGGER } from '../steps/fence-source.js';
import type { ServicePlan } from '../plan/model.js';
import { serviceTableKeys } from './plan-tables.js';
import { normaliseDefinition, tableDifferences, type SchemaExpectations, type TableDifference } from './schema-diff.js';
import { equivalentOnTarget } from './server-equivalence.js';
import type { DroppedKeyFamily } from './partition-keys.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';

async function readCatalog(pool: pg.Pool, schemas: string[]): Promise<Catalog> {
  const client = await pool.connect();
  try {
    return await introspect(client, schemas);
  } finally {
    client.release();
  }
}

/** The table and its partition ancestors, nearest first. */
function lineage(tables: Map<string, Table>, key: string): string[] {
  const out = [key];
  let t = tables.get(key);
  while (t?.partitionOf) {
    const parent = tableKey(t.partitionOf.parent);
    if (out.includes(parent)) break;
    out.push(parent);
    t = tables.get(parent);
  }
  return out;
}

/**
 * The dropped foreign keys of a service, with what tells their automatic copies apart:
 * the columns and the referenced table with its partitions, read from the source.
 */
function droppedKeyFamilies(tables: Map<string, Table>, svc: ServicePlan, family: string[]): DroppedKeyFamily[] {
  return svc.droppedForeignKeys
    .filter((fk) => family.includes(fk.table))
    .flatMap((fk) => {
      const c = tables.get(fk.table)?.constraints.find((x) => x.name === fk.constraint && x.type === 'f');
      if (!c?.references) return [];
      const ref = tableKey(c.references.table);
      return [{ columns: c.columns, references: [ref, ...[...tables.keys()].filter((k) => k !== ref && lineage(tables, k).includes(ref))] }];
    });
}

function expectationsFor(svc: ServicePlan, family: string[], tables: Map<string, Table>): SchemaExpectations {
  return {
    droppedKeyFamilies: droppedKeyFamilies(tables, svc, family),
    droppedConstraints: svc.droppedForeignKeys.filter((fk) => family.includes(fk.table)).map((fk) => fk.constraint),
    extraColumns: svc.denormalize.filter((d) => family.includes(d.table)).map((d) => ({ name: d.column, type: d.type })),
    ignoredTriggers: [FENCE_TRIGGER, FENCE_ROWS_TRIGGER, READ_ONLY_COPY_TRIGGER],
  };
}

/** The copy's own trigger, there and firing on ordinary writes (tgenabled O or A). */
function readOnlyTrigger(table: Table | undefined): boolean {
  return (table?.triggers ?? []).some((t) => t.name === READ_ONLY_COPY_TRIGGER && (t.enabled === 'O' || t.enabled === 'A'));
}

function expectedNote(e: SchemaExpectations): string {
  const parts: string[] = [];
  if (e.droppedConstraints.length) parts.push(`${e.droppedConstraints.length} dropped foreign key${e.droppedConstraints.length === 1 ? '' : 's'} left out`);
  if (e.extraColumns.length) parts.push(`${e.extraColumns.length} denormalized column${e.extraColumns.length === 1 ? '' : 's'} added`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/**
 * The differences left once the target server has compared the definitions that only
 * read differently (see equivalentOnTarget): what the server treats as the same is no
 * difference.
 */
async function withoutServerEquivalents(pool: pg.Pool, table: Table, diffs: TableDifference[]): Promise<TableDifference[]> {
  const textual = diffs.filter((d) => d.definition);
  if (textual.length === 0) return diffs;
  const client = await pool.connect();
  try {
    const same = await equivalentOnTarget(client, table, textual.map((d) => d.definition!));
    const equivalent = new Set(textual.filter((_d, i) => same.has(i)));
    return diffs.filter((d) => !equivalent.has(d));
  } finally {
    client.release();
  }
}

/**
 * Schema parity per table: the target database is read with the same catalog reader
 * as the source, and each table compared (columns, constraints, indexes, triggers,
 * policies), less the dropped foreign keys and plus the denormalized columns.
 * Constraints, indexes and defaults whose text differs are re-created on the target
 * server (in a transaction rolled back) and compared as that server deparses them.
 */
export async function schemaChecks(ctx: VerifyContext): Promise<Check[]> {
  const services = ctx.plan.services.map((svc) => ({ svc, keys: serviceTableKeys(ctx.plan, svc.name), types: plannedTypes(svc) })).filter((s) => s.keys.length > 0);
  const schemasOf = (keys: string[]) => [...new Set(keys.map((k) => parseKey(k).schema))].sort();
  let source: Map<string, Table>;
  let sourceViews: Map<string, View>;
  let sourceTypes: Map<string, TypeDef>;
  try {
    const catalog = await readCatalog(ctx.pools.pool('source'), schemasOf(services.flatMap((s) => [...s.keys, ...s.svc.views, ...s.types])));
    source = new Map(catalog.tables.map((t) => [tableKey(t), t]));
    sourceViews = new Map(catalog.views.map((v) => [tableKey(v), v]));
    sourceTypes = new Map(catalog.types.map((t) => [tableKey(t), t]));
  } catch (err) {
    return [{ kind: 'schema', ok: false, detail: `cannot read the source schema: ${errorText(err)}`, ...unverifiedBy(err) }];
  }
  const perService = await mapLimit(services, ctx.jobs, async ({ svc, keys, types }): Promise<Check[]> => {
    let target: Map<string, Table>;
    let targetViews: Map<string, View>;
    let targetTypes: Map<string, TypeDef>;
    try {
      const catalog = await readCatalog(ctx.pools.pool(svc.server, svc.database), schemasOf([...keys, ...svc.views, ...types]));
      target = new Map(catalog.tables.map((t) => [tableKey(t), t]));
      targetViews = new Map(catalog.views.map((v) => [tableKey(v), v]));
      targetTypes = new Map(catalog.types.map((t) => [tableKey(t), t]));
    } catch (err) {
      return [{ kind: 'schema', service: svc.name, ok: false, detail: `cannot read the schema of ${svc.database}: ${errorText(err)}`, ...unverifiedBy(err) }];
    }
    ctx.progress(`schema ${svc.database}: ${keys.length} tables`);
    const copied = new Set(svc.copies.map((t) => t.name));
    const checks: Check[] = [];
    for (const key of keys) {
      const base = { kind: 'schema' as const, service: svc.name, table: key };
      const s = source.get(key);
      if (!s) {
        checks.push({ ...base, ok: false, detail: `table ${key} no longer exists in the source` });
        continue;
      }
      const expect = expectationsFor(svc, lineage(source, key), source);
      let diffs = tableDifferences(s, target.get(key), expect);
      try {
        diffs = await withoutServerEquivalents(ctx.pools.pool(svc.server, svc.database), s, diffs);
      } catch (err) {
        // A lost connection leaves text differences the server might have found equivalent: no verdict.
        if (diffs.length > 0 && unverifiedBy(err).unverified) {
          checks.push({ ...base, ok: false, detail: `cannot compare the definitions of ${key} on the server: ${errorText(err)}`, unverified: true });
          continue;
        }
        ctx.progress(`schema ${key}: definitions compared as text only (${errorText(err)})`);
      }
      // A copy must stay read-only (its trigger is the tool's, so the comparison above leaves it out).
      if (lineage(source, key).some((k) => copied.has(k)) && !readOnlyTrigger(target.get(key))) {
        diffs.push({ text: `${key} is a copy but has no enabled ${READ_ONLY_COPY_TRIGGER} trigger: a write to it succeeds and the copy drifts from the table it copies` });
      }
      checks.push(
        diffs.length === 0
          ? { ...base, ok: true, detail: `columns, constraints, indexes, triggers and policies match${expectedNote(expect)}` }
          : { ...base, ok: false, detail: diffs.map((d) => d.text).join('; ') },
      );
    }
    // The views it got: there, of the same kind, a materialized one with the source's indexes (REFRESH … CONCURRENTLY needs its unique one).
    for (const key of svc.views) {
      const s = sourceViews.get(key);
      if (!s) continue;
      const t = targetViews.get(key);
      const base = { kind: 'schema' as const, service: svc.name, table: key };
      if (!t || t.materialized !== s.materialized) {
        checks.push({ ...base, ok: false, detail: t ? `view ${key} is ${t.materialized ? '' : 'not '}materialized in the target, unlike the source` : `view ${key} missing in target` });
        continue;
      }
      const indexes = (v: View) => new Map((v.indexes ?? []).map((i) => [i.name, normaliseDefinition(i.definition)]));
      const [si, ti] = [indexes(s), indexes(t)];
      // What an INSERT through the view gets (ALTER VIEW … ALTER COLUMN … SET DEFAULT).
      const defaults = (v: View) => new Map((v.columnDefaults ?? []).map((d) => [d.column, normaliseDefinition(d.default)]));
      const [sd, td] = [defaults(s), defaults(t)];
      const diffs = [
        ...[...si].filter(([n, d]) => ti.get(n) !== d).map(([n]) => (ti.has(n) ? `index ${n} differs` : `index ${n} missing in target`)),
        ...[...ti.keys()].filter((n) => !si.has(n)).map((n) => `index ${n} unexpected in target`),
        ...[...sd].filter(([c, d]) => td.get(c) !== d).map(([c]) => (td.has(c) ? `default of column ${c} differs` : `default of column ${c} missing in target`)),
        ...[...td.keys()].filter((c) => !sd.has(c)).map((c) => `default of column ${c} unexpected in target`),
      ];
      checks.push(
        diffs.length === 0
          ? { ...base, ok: true, detail: `${s.materialized ? `materialized view and its ${si.size} index${si.size === 1 ? '' : 'es'}` : `view${sd.size > 0 ? ` and its column default${sd.size === 1 ? '' : 's'}` : ''}`} present` }
          : { ...base, ok: false, detail: diffs.join('; ') },
      );
    }
    // The types it got (domains with their constraints and default, enums with their labels in order, composites, ranges).
    for (const key of types) {
      const s = sourceTypes.get(key);
      if (!s) continue;
      const t = targetTypes.get(key);
      const base = { kind: 'schema' as const, service: svc.name, table: key };
      const diff = typeDifference(s, t);
      checks.push(diff === null ? { ...base, ok: true, detail: `${s.kind} ${key} matches` } : { ...base, ok: false, detail: diff });
    }
    return checks;
  });
  return perService.flat();
}

/** The types the plan gives a service's database (absent in plans made before it listed them). */
function plannedTypes(svc: ServicePlan): string[] {
  return (svc.objects ?? []).filter((o) => o.kind === 'type').map((o) => o.name);
}

/** How a type in the target differs from the source's (its definition, its comment), or null. */
export function typeDifference(s: TypeDef, t: TypeDef | undefined): string | null {
  const key = tableKey(s);
  if (!t) return `${s.kind} ${key} missing in target`;
  const ddl = (x: TypeDef) => x.ddl.map(normaliseDefinition).join('; ');
  if (t.kind !== s.kind) return `${key} is a ${s.kind} in the source but a ${t.kind} in the target`;
  if (ddl(s) !== ddl(t)) return `${s.kind} ${key} differs: source ${ddl(s)} target ${ddl(t)}`;
  if ((s.comment ?? null) !== (t.comment ?? null)) return `${s.kind} ${key} comment differs: source ${JSON.stringify(s.comment)} target ${JSON.stringify(t.comment)}`;
  return null;
}
