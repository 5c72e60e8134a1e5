import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import type { PlanInput } from '../../../src/plan/input.js';
import type { Plan } from '../../../src/plan/model.js';
import { planSchemaProblems } from '../../../src/plan/plan-schema.js';
import type { MovedTable } from '../../../src/waves/moved-table.js';
import { makeOutput } from '../../../src/cli/output.js';
import { planJson, renderPlan } from '../../../src/cli/views/plan.js';
import { planMarkdown } from '../../../src/cli/views/plan-markdown.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = `version: 1
name: devices
source: { url: "\${SRC}" }
services:
  device-service:
    database: device_db
    tables: [devices, users]
ignore: [audit]
`;

/** orders (with its sequence-backed key) went with split billing; devices points at it; audit and orders point at users. */
function catalog() {
  const c = new CatalogBuilder()
    .table('users', { columns: ['id', 'name:text'] })
    .table('orders', { columns: ['id', 'user_id', 'total'], fks: [{ columns: ['user_id'], references: 'users' }] })
    .table('devices', { columns: ['id', 'last_order_id', 'user_id'], fks: [{ columns: ['last_order_id'], references: 'orders' }, { columns: ['user_id'], references: 'users' }] })
    .table('audit', { columns: ['id', 'user_id'], fks: [{ columns: ['user_id'], references: 'users' }] })
    .build();
  c.sequences.push({ schema: 'public', name: 'orders_id_seq', ownedBy: { table: { schema: 'public', name: 'orders' }, column: 'id' } } as (typeof c.sequences)[number]);
  return c;
}

const MOVED: MovedTable[] = [
  { table: 'public.orders', split: 'billing', service: 'billing-service', database: 'billing_db', movedAt: '2026-12-01T09:30:00.000Z', state: 'moved', via: 'journal+fence' },
];

function plan(): Plan {
  const manifest = parseManifest(MANIFEST, 'split.yaml');
  const cat = catalog();
  const resolved = resolveManifest(manifest, cat, 'split.yaml', MOVED);
  const input: PlanInput = {
    manifest,
    manifestText: MANIFEST,
    manifestPath: 'split.yaml',
    catalog: cat,
    services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: [] })),
    ignored: ['public.audit'],
    warnings: [],
    configEdits: {},
    movedEarlier: MOVED,
  };
  return buildPlan(input);
}

describe('the plan of a later wave', () => {
  const p = plan();

  it('drops the foreign key to an earlier wave\'s table as cross-service, naming the split, with no denormalization offered', () => {
    const fk = p.services[0]!.droppedForeignKeys.find((f) => f.references.startsWith('public.orders'))!;
    expect(fk).toMatchObject({ table: 'public.devices', reason: 'cross-service', referencedService: 'billing-service', movedBy: 'billing', denormalizedBy: [] });
    expect(fk.suggestion).toMatch(/public\.orders was moved by split billing on 2026-12-01 .*denormalizing from it is refused/);
    expect(p.steps.flatMap((s) => s.sql).join('\n')).not.toMatch(/REFERENCES "public"."orders"/);
  });

  it('never fences, copies or lists the moved table, and says nothing is left behind because of it', () => {
    expect(p.steps.filter((s) => s.kind === 'copy_data').map((s) => s.table)).toEqual(expect.arrayContaining(['public.devices', 'public.users']));
    expect(p.steps.some((s) => s.table === 'public.orders')).toBe(false);
    expect(p.steps.find((s) => s.kind === 'fence_source')).toMatchObject({ tables: ['public.devices', 'public.users'] });
    expect(p.leftBehind).toContainEqual({ kind: 'sequence', name: 'public.orders_id_seq', reason: 'went with the tables split billing moved (their backup stays in the source)' });
    expect(p.warnings.join('\n')).not.toMatch(/orders/);
  });

  it('lists the foreign keys that stay in the source to this wave\'s tables, from remaining tables and from backups', () => {
    expect(p.remainingForeignKeys).toEqual([
      { table: 'public.audit', constraint: 'audit_user_id_fkey', columns: ['user_id'], references: 'public.users(id)', referencedService: 'device-service', movedBy: null },
      { table: 'public.orders', constraint: 'orders_user_id_fkey', columns: ['user_id'], references: 'public.users(id)', referencedService: 'device-service', movedBy: 'billing' },
    ]);
  });

  it('shows both in the text, Markdown and JSON views, and a plan file with them reads back', () => {
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (b: Buffer) => (text += b.toString()));
    renderPlan(p, makeOutput({ color: false }, stdout, new PassThrough(), {}));
    expect(text).toMatch(/Moved by earlier splits \(left alone\):\n\s+1 table moved by split billing on 2026-12-01 \(billing-service, database billing_db\):\n\s+public\.orders/);
    expect(text).toMatch(/Foreign keys to the moved tables that stay in the source \(2\):/);
    expect(text).toMatch(/public\.orders\.orders_user_id_fkey \(user_id\) → public\.users\(id\) \[device-service; public\.orders is split billing's backup\]/);
    const md = planMarkdown(p);
    expect(md).toMatch(/#### Moved by earlier splits \(left alone\)/);
    expect(md).toMatch(/`public\.orders` \| moved by split billing on 2026-12-01/);
    expect(md).toMatch(/#### Foreign keys to the moved tables that stay in the source/);
    const json = planJson(p) as { movedEarlier: MovedTable[]; remainingForeignKeys: unknown[] };
    expect(json.movedEarlier).toEqual(MOVED);
    expect(json.remainingForeignKeys).toHaveLength(2);
    expect(planSchemaProblems(JSON.parse(JSON.stringify(p))).problems).toEqual([]);
  });
});

describe('a dropped cross-service foreign key with referential actions', () => {
  it('says what no longer happens on a delete and on an update of the referenced row, delete first', () => {
    const text = `version: 1
name: lists
source: { url: "\${SRC}" }
services:
  lists: { database: lists_db, tables: [lists] }
  subscribers: { database: subs_db, tables: [subscriber_lists] }
`;
    const cat = new CatalogBuilder()
      .table('lists', { columns: ['id'] })
      .table('subscriber_lists', {
        columns: ['id', 'list_id'],
        fks: [{ columns: ['list_id'], references: 'lists', definition: 'FOREIGN KEY (list_id) REFERENCES public.lists(id) ON UPDATE CASCADE ON DELETE SET NULL' }],
      })
      .build();
    const p = planFrom(text, cat);
    const fk = p.services.flatMap((s) => s.droppedForeignKeys).find((f) => f.table === 'public.subscriber_lists')!;
    expect(fk.suggestion).toContain(
      '; its ON DELETE SET NULL goes with it: deleting a row of public.lists no longer sets public.subscriber_lists.list_id to NULL, the application must' +
        '; its ON UPDATE CASCADE goes with it: changing the key of a row of public.lists no longer updates public.subscriber_lists.list_id, the application must',
    );
  });
});
