import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ident, qname } from '../pg/quote.js';
import type { DefinitionDifference } from './schema-diff.js';

/** `CREATE [UNIQUE] INDEX "name" ON [ONLY] "schema"."table"`: the part of an index definition that names things. */
const INDEX_HEAD = /^CREATE (UNIQUE )?INDEX (?:"(?:[^"]|"")*"|\S+) ON (?:ONLY )?(?:"(?:[^"]|"")*"|[^\s.]+)\.(?:"(?:[^"]|"")*"|\S+) /;

/** An index definition without its own name and its table's, for comparing two indexes of different tables. */
function indexBody(def: string): string | null {
  const m = INDEX_HEAD.exec(def);
  return m ? `${m[1] ?? ''}${def.slice(m[0].length)}` : null;
}

/** What the server deparses for one object: a definition text, or null when there is none. */
type Deparse = (c: pg.ClientBase) => Promise<string | null>;

async function one(c: pg.ClientBase, sql: string, params: unknown[]): Promise<string | null> {
  const r = await c.query<{ d: string | null }>(sql, params);
  return r.rows[0]?.d ?? null;
}

const constraintDef = (table: string, name: string): Deparse => (c) =>
  one(c, `SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`, [table, name]);
const defaultDef = (table: string, column: string): Deparse => (c) =>
  one(
    c,
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = $1::regclass AND a.attname = $2`,
    [table, column],
  );
const indexDef = (schema: string, name: string): Deparse => async (c) => {
  const d = await one(c, `SELECT pg_get_indexdef(format('%I.%I', $1::text, $2::text)::regclass) AS d`, [schema, name]);
  return d === null ? null : indexBody(d);
};

/**
 * Which of `diffs` (definitions of one table that read differently in the source and the
 * target) the target server itself treats as the same: each source definition is created
 * on an empty copy of the table's columns in a scratch schema, inside a transaction that is
 * rolled back, and the server's deparse of it is compared with its deparse of the real
 * object. PostgreSQL's deparse is not a fixed point (`CHECK (s IN ('a','b'))` on a varchar
 * reads back as `ARRAY[('a'::character varying)::text, …]` once re-parsed) and differs
 * between majors; both sides are then read by one server. A definition that cannot be
 * created there stays a difference. Returns the indexes into `diffs` found equivalent.
 */
export async function equivalentOnTarget(
  client: pg.ClientBase,
  table: { schema: string; name: string },
  diffs: readonly DefinitionDifference[],
): Promise<Set<number>> {
  const same = new Set<number>();
  if (diffs.length === 0) return same;
  const scratch = `cloudphone_split_scratch_${randomBytes(4).toString('hex')}`;
  const real = qname(table);
  const copy = `${ident(scratch)}.${ident(table.name)}`;
  await client.query('BEGIN');
  try {
    await client.query(`SELECT set_config('search_path', '', true), set_config('quote_all_identifiers', 'on', true)`);
    await client.query(`CREATE SCHEMA ${ident(scratch)}`);
    await client.query(`CREATE TABLE ${copy} (LIKE ${real})`);
    for (const [i, d] of diffs.entries()) {
      await client.query('SAVEPOINT one_definition');
      try {
        let create: string;
        let mine: Deparse;
        let theirs: Deparse;
        if (d.kind === 'constraint') {
          create = `ALTER TABLE ${copy} ADD CONSTRAINT ${ident(d.name)} ${d.source}`;
          mine = constraintDef(copy, d.name);
          theirs = constraintDef(real, d.name);
        } else if (d.kind === 'default') {
          create = `ALTER TABLE ${copy} ALTER COLUMN ${ident(d.name)} SET DEFAULT ${d.source}`;
          mine = defaultDef(copy, d.name);
          theirs = defaultDef(real, d.name);
        } else {
          const m = INDEX_HEAD.exec(d.source);
          if (!m) throw new Error('not an index definition');
          const name = `scratch_index_${i}`;
          create = `CREATE ${m[1] ?? ''}INDEX ${ident(name)} ON ${copy} ${d.source.slice(m[0].length)}`;
          mine = indexDef(scratch, name);
          theirs = indexDef(table.schema, d.name);
        }
        await client.query(create);
        const [a, b] = [await mine(client), await theirs(client)];
        if (a !== null && a === b) same.add(i);
        await client.query('RELEASE SAVEPOINT one_definition');
      } catch {
        // Not creatable here (a function or type the target lacks...): it stays a difference.
        await client.query('ROLLBACK TO SAVEPOINT one_definition');
      }
    }
  } finally {
    await client.query('ROLLBACK');
  }
  return same;
}
