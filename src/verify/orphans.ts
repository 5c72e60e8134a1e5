import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import type { DroppedForeignKey, ServicePlan } from '../plan/model.js';
import { targetOf } from './plan-tables.js';
import { openPinned, type PinnedSide } from './sides.js';
import { errorText, mapLimit, type Check, type VerifyContext } from './check.js';

/** Keys checked against the owner per query. */
const BATCH = 5000;
const SHOWN = 10;

interface ForeignKeyShape {
  local: string[];
  refSchema: string;
  refName: string;
  remote: Array<{ name: string; type: string }>;
}

async function shapeOf(source: pg.Pool, fk: DroppedForeignKey): Promise<ForeignKeyShape | null> {
  const r = await source.query<{ local: string[]; ref_schema: string; ref_name: string; remote: string[]; types: string[] }>(
    `SELECT
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS local,
       rn.nspname::text AS ref_schema, r.relname::text AS ref_name,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS remote,
       (SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS types
     FROM pg_constraint c
     JOIN pg_class r ON r.oid = c.confrelid
     JOIN pg_namespace rn ON rn.oid = r.relnamespace
     WHERE c.conrelid = $1::regclass AND c.conname = $2 AND c.contype = 'f'`,
    [qname(parseKey(fk.table)), fk.constraint],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    local: row.local,
    refSchema: row.ref_schema,
    refName: row.ref_name,
    remote: row.remote.map((name, i) => ({ name, type: row.types[i]! })),
  };
}

async function countOrphans(
  holder: PinnedSide,
  owner: PinnedSide,
  table: string,
  shape: ForeignKeyShape,
): Promise<{ rows: number; keys: number; sample: Array<Record<string, string>> }> {
  const t = qname(parseKey(table));
  const cols = shape.local.map((c) => `t.${ident(c)}`);
  const keys = await holder.query<Record<string, string>>(
    `SELECT ${cols.map((c, i) => `${c}::text AS k${i}`).join(', ')}, count(*)::text AS n
     FROM ${t} AS t WHERE ${cols.map((c) => `${c} IS NOT NULL`).join(' AND ')} GROUP BY ${cols.map((_, i) => i + 1).join(', ')}`,
  );
  const ref = qname({ schema: shape.refSchema, name: shape.refName });
  const vars = shape.local.map((_, i) => `k${i}`);
  const match = shape.remote.map((c, i) => `r.${ident(c.name)} = v.k${i}::${c.type}`).join(' AND ');
  let rows = 0;
  let missing = 0;
  const sample: Array<Record<string, string>> = [];
  for (let start = 0; start < keys.length; start += BATCH) {
    const batch = keys.slice(start, start + BATCH);
    const found = await owner.query<{ i: string }>(
      `SELECT v.i::text AS i FROM unnest(${vars.map((_, j) => `$${j + 1}::text[]`).join(', ')}) WITH ORDINALITY AS v(${vars.join(', ')}, i)
       WHERE NOT EXISTS (SELECT 1 FROM ${ref} AS r WHERE ${match})`,
      vars.map((v) => batch.map((k) => k[v])),
    );
    for (const { i } of found) {
      const k = batch[Number(i) - 1]!;
      missing += 1;
      rows += Number(k.n);
      if (sample.length < SHOWN) sample.push(Object.fromEntries(shape.local.map((c, j) => [c, String(k[`k${j}`])])));
    }
  }
  return { rows, keys: missing, sample };
}

async function orphanCheck(ctx: VerifyContext, svc: ServicePlan, fk: DroppedForeignKey): Promise<Check> {
  const base = { kind: 'orphans' as const, service: svc.name, table: fk.table, ok: true };
  if (fk.movedBy) {
    // In the source the referenced table is that split's fenced backup: comparing with it would say what no longer holds.
    const moved = ctx.plan.movedEarlier?.find((m) => fk.references.startsWith(`${m.table}(`) || fk.references === m.table);
    return {
      ...base,
      detail: `not compared: ${fk.references} was moved by split ${fk.movedBy}${moved?.database ? ` to database ${moved.database}` : ''}, and its rows in the source are a stale, fenced backup; ` +
        `compare ${fk.table}(${fk.columns.join(', ')}) with ${moved?.database ?? 'that database'} by hand (foreign key ${fk.constraint} was dropped; informational)`,
    };
  }
  const owner = fk.referencedService ? targetOf(ctx.plan, fk.referencedService) : null;
  const ownerLabel = owner ? `${owner.database} (${owner.service})` : 'the source';
  const sides: PinnedSide[] = [];
  try {
    const shape = await shapeOf(ctx.pools.pool('source'), fk);
    if (!shape) return { ...base, detail: `foreign key ${fk.constraint} no longer exists in the source: nothing to compare` };
    sides.push(await openPinned(ctx.pools.pool(svc.server, svc.database)));
    sides.push(await openPinned(owner ? ctx.pools.pool(owner.server, owner.database) : ctx.pools.pool('source')));
    const r = await countOrphans(sides[0]!, sides[1]!, fk.table, shape);
    const what = `${fk.table}(${shape.local.join(', ')}) → ${shape.refSchema}.${shape.refName} in ${ownerLabel}`;
    return {
      ...base,
      target: { rows: r.rows, keys: r.keys },
      keys: r.sample,
      detail: r.rows === 0
        ? `no orphans: every ${what} exists (foreign key ${fk.constraint} was dropped)`
        : `${r.rows} rows (${r.keys} distinct keys) of ${what} have no referenced row (foreign key ${fk.constraint} was dropped; informational)`,
    };
  } catch (err) {
    return { ...base, detail: `could not count orphans of ${fk.constraint}: ${errorText(err)}` };
  } finally {
    await Promise.all(sides.map((s) => s.close()));
  }
}

/**
 * Informational (always ok): for each dropped cross-service foreign key, how many rows
 * of the target table reference a key that does not exist in the owning service's
 * database, i.e. what the dropped constraint used to guarantee.
 */
export async function orphanChecks(ctx: VerifyContext): Promise<Check[]> {
  const items = ctx.plan.services.flatMap((svc) => svc.droppedForeignKeys.map((fk) => ({ svc, fk })));
  return mapLimit(items, ctx.jobs, ({ svc, fk }) => orphanCheck(ctx, svc, fk));
}
