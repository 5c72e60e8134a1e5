import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import type { MovedTable } from '../../../src/waves/moved-table.js';
import { sampleCatalog } from './fixtures.js';
import { paths, thrownProblems } from './helpers.js';

/** Wave 1 moved billing: orders, payments and the audit log, on 2026-12-01. */
const BILLING: MovedTable[] = ['public.orders', 'public.payments', 'public.Billing "Audit" Log'].map((table) => ({
  table,
  split: 'billing',
  service: 'billing-service',
  database: 'cloudphone_billing',
  movedAt: '2026-12-01T09:30:00.000Z',
  state: 'moved',
  via: 'journal+fence',
}));

const WAVE2 = (extra = '', services = '') => `version: 1
name: devices
source: { url: "\${CLOUDPHONE_CORE_URL}" }
services:
  user-service:
    database: cloudphone_user
    tables: [users, roles, permissions, "user_*"]
  device-service:
    database: cloudphone_device
    tables: [devices, nodes, events]
${services}
ignore: [typeorm_metadata, "legacy_*", user_device_summary${extra}]
`;

const resolve = (text: string, moved: MovedTable[] = BILLING) => resolveManifest(parseManifest(text, 'wave2.yaml'), sampleCatalog(), 'wave2.yaml', moved);

describe('a later wave (SPEC §7)', () => {
  it('needs no entry for the tables an earlier split moved: they are in no service and not ignored', () => {
    const r = resolve(WAVE2());
    expect(r.moved.map((m) => m.table)).toEqual(BILLING.map((m) => m.table));
    expect(r.tables['public.orders']).toBeUndefined();
    expect(r.services.flatMap((s) => s.tables)).not.toContain('public.orders');
    expect(r.warnings).toEqual([]);
  });

  it('without them, the same manifest is missing the billing tables', () => {
    const problems = thrownProblems(() => resolve(WAVE2(), []));
    expect(problems.map((p) => p.message).join('\n')).toMatch(/table orders is not owned by any service and not ignored/);
  });

  it('refuses an exact name of a moved table in tables or copies, saying who moved it and when; in ignore it is a warning', () => {
    const ignored = resolve(WAVE2(', payments'));
    expect(ignored.warnings.map((w) => [w.path, w.message])).toEqual([['ignore[3]', expect.stringMatching(/^payments was moved by split billing on 2026-12-01/)]]);
    expect(ignored.tables['public.payments']).toBeUndefined();
    const problems = thrownProblems(() =>
      resolve(
        WAVE2(', payments', `  billing-v2:\n    database: cloudphone_billing2\n    tables: [orders]\n  api-gateway:\n    database: cloudphone_auth\n    copies: ['"Billing ""Audit"" Log"']`),
      ),
    );
    expect(paths(problems).sort()).toEqual(['services.api-gateway.copies[0]', 'services.billing-v2.tables[0]']);
    for (const p of problems) {
      expect(p.message).toMatch(/was moved by split billing on 2026-12-01 \(billing-service, database cloudphone_billing\): a table is moved once/);
      expect(p.fix).toMatch(/need no entry/);
    }
  });

  it('says what to do about a table a split has started moving and not fenced yet: finish that split or roll it back', () => {
    const moving = BILLING.map((m) => ({ ...m, state: 'moving' as const, movedAt: null }));
    for (const entry of ['orders', '"pay*"']) {
      const problems = thrownProblems(() => resolve(WAVE2('', `  billing-v2:\n    database: cloudphone_billing2\n    tables: [${entry}]`), moving));
      expect(problems.map((p) => p.fix)).toEqual([
        'split billing has not finished: finish it (cloudphone-split apply with its manifest), or roll it back (cloudphone-split rollback with its manifest) to move the table with this one; removing it from this manifest leaves it to that split',
      ]);
    }
  });

  it('lets globs skip the moved tables; a service glob that matches only moved tables is an error, an ignore glob a warning', () => {
    const r = resolve(WAVE2(', "*"'));
    expect(Object.keys(r.tables)).not.toContain('public.orders');
    const problems = thrownProblems(() => resolve(WAVE2('', `  billing-v2:\n    database: cloudphone_billing2\n    tables: ["pay*"]`)));
    expect(paths(problems)).toEqual(['services.billing-v2.tables[0]']);
    expect(problems[0]!.message).toMatch(/matches only tables that earlier splits moved \(split billing\): payments/);
    const w = resolve(WAVE2(', "pay*"'));
    expect(w.warnings.map((x) => x.message)).toEqual([expect.stringMatching(/matches only tables that earlier splits moved/)]);
  });

  it('refuses to fill a column from a moved table: its rows in the source are a stale backup', () => {
    const text = WAVE2().replace('tables: [devices, nodes, events]', 'tables: [devices, nodes, events]\n    denormalize:\n      - { table: devices, column: last_order, from: orders.id, on: [id] }');
    const problems = thrownProblems(() => resolve(text));
    expect(paths(problems)).toEqual(['services.device-service.denormalize[0].from']);
    expect(problems[0]!.message).toMatch(/orders was moved by split billing on 2026-12-01 .*fenced backup, stale once billing-service writes to cloudphone_billing/);
  });

  it('refuses a column added to a moved table as that, not as a table the service should add to its own', () => {
    const text = WAVE2('', `  billing-v2:
    database: cloudphone_billing2
    tables: [orders]
    denormalize:
      - { table: orders, column: device_name, from: devices.name }`);
    const problems = thrownProblems(() => resolve(text));
    expect(paths(problems).sort()).toEqual(['services.billing-v2.denormalize[0].table', 'services.billing-v2.tables[0]']);
    const column = problems.find((p) => p.path === 'services.billing-v2.denormalize[0].table')!;
    expect(column.message).toBe('orders was moved by split billing on 2026-12-01 (billing-service, database cloudphone_billing): this split adds no column to it');
    expect(column.fix).toBe('remove this entry: billing-service owns the table now, in its own database');
  });
});
