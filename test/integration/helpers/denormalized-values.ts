import pg from 'pg';
import { expect } from 'vitest';
import type { Plan } from '../../../src/plan/model.js';
import type { SplitFixture } from './split-fixture.js';
import { PINNED_SETTINGS } from './table-sums.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const qkey = (key: string): string => {
  const dot = key.indexOf('.');
  return `${q(key.slice(0, dot))}.${q(key.slice(dot + 1))}`;
};

/**
 * A denormalized column as the test itself understands it: `table.column` in the
 * service's database holds `from.fromColumn` of the source row whose `remote`
 * columns equal the row's `local` ones, NULL when there is none.
 */
export interface DenormalizedColumn {
  /** Service key or name. */
  service: string;
  /** `schema.name`, the same in the source and the target. */
  table: string;
  column: string;
  /** `schema.name` of the source table the value comes from. */
  from: string;
  fromColumn: string;
  /** [local column of `table`, column of `from`] pairs. */
  on: Array<[string, string]>;
}

export interface DenormalizedCheck {
  rows: number;
  /** Rows whose expected value is not NULL. */
  values: number;
  /** Rows whose expected value is NULL (a NULL key part, or no matching row). */
  nulls: number;
}

async function rows(url: string, sql: string): Promise<Array<{ r: string; v: string | null }>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of PINNED_SETTINGS) await c.query(s);
    return (await c.query<{ r: string; v: string | null }>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** The source's columns of `table`, in order (the target has these plus the denormalized ones). */
async function sourceColumns(url: string, table: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string }>(
      `SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [qkey(table)],
    );
    return r.rows.map((x) => x.name);
  } finally {
    await c.end();
  }
}

/**
 * Asserts that every row of the target's `table` holds, in `column`, the value a
 * LEFT JOIN written here computes on the source for the row with the same source
 * columns (rows are matched by their text over the source's columns, duplicates
 * counted). A fill that wrote NULL, a wrong value, or the value of another row fails.
 */
export async function expectDenormalizedValues(fx: SplitFixture, d: DenormalizedColumn): Promise<DenormalizedCheck> {
  const columns = await sourceColumns(fx.sourceUrl, d.table);
  const row = `ROW(${columns.map((c) => `s.${q(c)}`).join(', ')})::text`;
  const on = d.on.map(([local, remote]) => `f.${q(remote)} = s.${q(local)}`).join(' AND ');
  const expected = await rows(
    fx.sourceUrl,
    `SELECT ${row} AS r, f.${q(d.fromColumn)}::text AS v FROM ${qkey(d.table)} AS s LEFT JOIN ${qkey(d.from)} AS f ON ${on}`,
  );
  const actual = await rows(fx.service(d.service).url, `SELECT ${row} AS r, s.${q(d.column)}::text AS v FROM ${qkey(d.table)} AS s`);
  const key = (x: { r: string; v: string | null }): string => JSON.stringify([x.r, x.v]);
  const counts = new Map<string, number>();
  for (const x of expected) counts.set(key(x), (counts.get(key(x)) ?? 0) + 1);
  const unexpected: string[] = [];
  for (const x of actual) {
    const n = counts.get(key(x)) ?? 0;
    if (n === 0) unexpected.push(`${x.r} has ${d.column} = ${x.v === null ? 'NULL' : JSON.stringify(x.v)}`);
    else counts.set(key(x), n - 1);
  }
  const missing = [...counts].filter(([, n]) => n > 0).map(([k]) => k);
  const where = `${d.table}.${d.column} in ${fx.service(d.service).database}`;
  expect(actual.length, `rows of ${where}`).toBe(expected.length);
  expect(unexpected.slice(0, 5), `values of ${where} that the source does not give (${unexpected.length})`).toEqual([]);
  expect(missing.slice(0, 5), `expected values missing from ${where}`).toEqual([]);
  const values = expected.filter((x) => x.v !== null).length;
  return { rows: expected.length, values, nulls: expected.length - values };
}

/** Asserts that the plan denormalizes exactly the given columns (so that none goes unchecked). */
export function expectPlannedDenormalized(plan: Plan, columns: Array<Pick<DenormalizedColumn, 'table' | 'column'>>): void {
  const planned = plan.services.flatMap((s) => s.denormalize.map((d) => `${d.table}.${d.column}`)).sort();
  expect(planned).toEqual(columns.map((c) => `${c.table}.${c.column}`).sort());
}

/** The sample's denormalized columns, and the join that gives their values. */
export const SAMPLE_DENORMALIZED: DenormalizedColumn[] = [
  { service: 'device', table: 'public.devices', column: 'user_name', from: 'public.users', fromColumn: 'username', on: [['user_id', 'id']] },
  { service: 'billing', table: 'public.orders', column: 'user_name', from: 'public.users', fromColumn: 'username', on: [['user_id', 'id']] },
  { service: 'billing', table: 'public.orders', column: 'device_name', from: 'public.devices', fromColumn: 'name', on: [['device_id', 'id']] },
];

/** Every denormalized column holds the value the source's join gives, row by row (NULL keys included). */
export async function expectSampleDenormalized(fx: SplitFixture, plan: Plan): Promise<void> {
  expectPlannedDenormalized(plan, SAMPLE_DENORMALIZED);
  let nulls = 0;
  for (const d of SAMPLE_DENORMALIZED) {
    const check = await expectDenormalizedValues(fx, d);
    expect(check.values, `${d.table}.${d.column} values`).toBeGreaterThan(0);
    nulls += check.nulls;
  }
  // The sample has rows with a NULL key (devices.user_id, orders.device_id): they must stay NULL.
  expect(nulls).toBeGreaterThan(0);
}
