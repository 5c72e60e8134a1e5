import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import type { DroppedForeignKey } from '../plan/model.js';

/**
 * After a rollback through reverse replication: rows of the source that reference rows
 * no longer there, through a foreign key the split dropped in the new databases. While
 * the services wrote there, a row could lose its referenced row (deleted by another
 * service, with no cascade across databases); replication then applied that delete to the
 * source without firing the source's own foreign key (replicated changes never do), so the
 * constraint is still marked valid over rows that break it. One warning per foreign key
 * with such rows, with their count and the query that lists them.
 */
/**
 * The foreign keys of the source that reference the moved tables (`schema.name`), from
 * any table, the ones that stay in the source included: a delete replicated back from a
 * new database fires none of them (no check, no ON DELETE action).
 */
export async function keysToMoved(client: pg.ClientBase, moved: readonly string[]): Promise<Array<{ table: string; constraint: string }>> {
  const r = await client.query<{ table: string; constraint: string }>(
    `SELECT n.nspname || '.' || t.relname AS table, c.conname AS constraint
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.contype = 'f' AND c.conparentid = 0 AND rn.nspname || '.' || r.relname = ANY ($1::text[])
      ORDER BY 1, 2`,
    [moved],
  );
  return r.rows;
}

export async function sourceOrphanWarnings(client: pg.ClientBase, fks: readonly Pick<DroppedForeignKey, 'table' | 'constraint'>[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const fk of fks) {
    const id = `${fk.table}\u0000${fk.constraint}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const shape = await client.query<{ local: string[]; ref: string; remote: string[] }>(
      `SELECT (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS local,
              format('%I.%I', rn.nspname, r.relname) AS ref,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS remote
         FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
        WHERE c.conrelid = to_regclass($1) AND c.conname = $2 AND c.contype = 'f'`,
      [qname(parseKey(fk.table)), fk.constraint],
    );
    const s = shape.rows[0];
    if (!s) continue;
    const notNull = s.local.map((c) => `t.${ident(c)} IS NOT NULL`).join(' AND ');
    const match = s.remote.map((c, i) => `r.${ident(c)} = t.${ident(s.local[i]!)}`).join(' AND ');
    const where = `${notNull} AND NOT EXISTS (SELECT 1 FROM ${s.ref} r WHERE ${match})`;
    const table = qname(parseKey(fk.table));
    const n = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} t WHERE ${where}`)).rows[0]?.n ?? 0);
    if (n === 0) continue;
    out.push(
      `${fk.table}: ${n} row${n === 1 ? '' : 's'} reference${n === 1 ? 's' : ''} ${s.ref} rows that do not exist (changes made in the new databases after cutover came back here ` +
        `by replication, which fires neither the check nor the action of ${fk.constraint}): the constraint is still marked valid over ${n === 1 ? 'it' : 'them'}, ` +
        `so fix or delete ${n === 1 ? 'it' : 'them'} (SELECT * FROM ${table} t WHERE ${where})`,
    );
  }
  return out;
}
