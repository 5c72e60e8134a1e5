import { expect } from 'vitest';
import type { Plan } from '../../../src/plan/model.js';
import type { SplitFixture } from './split-fixture.js';
import { compareWithSource, copiedTables, nextvals, sequenceValues, type DatabaseComparison } from './table-sums.js';

/**
 * Asserts that a finished split holds exactly the source's data: every service
 * database has the leaf tables the plan copies, each with the source's row count and
 * checksum (on the source's columns). Returns the comparison for further checks.
 */
export async function expectSameData(fx: SplitFixture, plan: Plan): Promise<DatabaseComparison[]> {
  const expected = copiedTables(plan);
  const cmp = await compareWithSource(fx);
  for (const c of cmp) {
    expect(c.tables, `tables of ${c.database}`).toEqual(expected.get(c.database) ?? []);
    expect(c.target, `rows and checksums of ${c.database}`).toEqual(c.source);
  }
  return cmp;
}

/** Asserts that every sequence of every service database hands out values past the source's. */
export async function expectSequencesPastSource(fx: SplitFixture): Promise<number> {
  const source = await sequenceValues(fx.sourceUrl);
  let checked = 0;
  for (const s of fx.services) {
    const keys = Object.keys(await sequenceValues(s.url));
    for (const key of keys) expect(source[key], `${key} of ${s.database} exists in the source`).toBeDefined();
    // One connection per database takes every sequence's next value.
    const next = await nextvals(s.url, keys);
    for (const [i, key] of keys.entries()) {
      const src = source[key]!;
      if (src.called) expect(next[i], `nextval(${key}) in ${s.database}`).toBeGreaterThan(BigInt(src.last));
      checked++;
    }
  }
  return checked;
}

/** Total rows over all compared tables. */
export function totalRows(cmp: DatabaseComparison[]): number {
  return cmp.reduce((a, c) => a + Object.values(c.target).reduce((b, t) => b + t.rows, 0), 0);
}
