import { describe, expect, it } from 'vitest';
import type { Table } from '../../../src/catalog/model.js';
import { replicaIdentityCandidate } from '../../../src/online/identity-keys.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from '../plan/plan-from.js';

/** A Prisma join table: no primary key, a unique index over its two NOT NULL columns. */
function joinTable(opts: { nullable?: boolean; partial?: boolean } = {}) {
  const cat = new CatalogBuilder(['public']).table('_TeamToUser', { columns: ['A', 'B'], pk: [] }).table('teams', { columns: ['id'] }).build();
  const t = cat.tables.find((x) => x.name === '_TeamToUser')!;
  for (const c of t.columns) c.notNull = !(opts.nullable && c.name === 'B');
  t.indexes.push({
    name: '_TeamToUser_AB_unique',
    // As the catalog reads it: every identifier quoted (quote_all_identifiers), the access method too.
    definition: `CREATE UNIQUE INDEX "_TeamToUser_AB_unique" ON "public"."_TeamToUser" USING "btree" ("A", "B")${opts.partial ? ' WHERE ("A" > 0)' : ''}`,
    constraint: null,
    unique: true,
    primary: false,
    clustered: false,
    parentIndex: null,
    comment: null,
  });
  return { cat, t: t as Table };
}

describe('a replica identity for a table without a primary key', () => {
  it('is its unique index over NOT NULL columns', () => {
    expect(replicaIdentityCandidate(joinTable().t)).toBe('_TeamToUser_AB_unique');
  });

  it('is none when a column may be NULL or the index is partial', () => {
    expect(replicaIdentityCandidate(joinTable({ nullable: true }).t)).toBeNull();
    expect(replicaIdentityCandidate(joinTable({ partial: true }).t)).toBeNull();
  });

  it('is offered by an online plan, which would otherwise copy the table inside the cutover window', () => {
    const manifest = `version: 1
name: joins
mode: online
source: { url: "\${SRC}" }
services:
  teams:
    database: teams_db
    tables: [teams, _TeamToUser]
`;
    const warning = planFrom(manifest, joinTable().cat).warnings.find((w) => w.includes('_TeamToUser has no primary key'));
    expect(warning).toContain(
      'to replicate it instead, give it a replica identity in the source before apply: ALTER TABLE "public"."_TeamToUser" REPLICA IDENTITY USING INDEX "_TeamToUser_AB_unique" (unique, on NOT NULL columns)',
    );
  });
});
