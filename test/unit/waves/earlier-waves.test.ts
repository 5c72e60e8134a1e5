import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../src/catalog/model.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { fencesOf } from '../../../src/waves/fence-triggers.js';
import { earlierWaves, type WaveRecord } from '../../../src/waves/earlier-waves.js';
import { describeMoved } from '../../../src/waves/moved-table.js';
import { movedSincePlan, rolledBackSincePlan } from '../../../src/waves/plan-tables.js';
import { describeDependent, waveDependents, type SplitRun } from '../../../src/waves/wave-dependents.js';
import { stripToolObjects } from '../../../src/plan/tool-objects.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const fenceTrigger = (database: string, split: string) => ({
  name: 'cloudphone_split_fence',
  definition: `CREATE TRIGGER "cloudphone_split_fence" BEFORE INSERT OR DELETE OR UPDATE OR TRUNCATE ON "public"."orders" FOR EACH STATEMENT EXECUTE FUNCTION "cloudphone_split"."fence"(${lit(database)}, ${lit(split)})`,
  enabled: 'A',
  function: 'cloudphone_split.fence()',
  comment: null,
});

function catalog(): Catalog {
  const c = new CatalogBuilder().table('orders').table('payments').table('users').build();
  c.tables.find((t) => t.name === 'orders')!.triggers.push(fenceTrigger("billing 'db'", 'o-brien'));
  return c;
}

type PlanPart = WaveRecord['plan'];
function wavePlan(database: string, services: Array<{ name: string; database: string; tables: string[] }>, extra: Step[] = []): PlanPart {
  const fence: Step = { id: 'fence_source:x', kind: 'fence_source', description: '', sql: [], dependsOn: [], tables: services.flatMap((s) => s.tables) };
  return {
    source: { database, serverVersion: '18' },
    services: services.map((s) => ({ name: s.name, database: s.database, server: 'source', role: null, tables: s.tables.map((name) => ({ name, rowsEstimate: 0, bytes: 0 })), copies: [], views: [], droppedForeignKeys: [], denormalize: [] })),
    steps: [fence, ...extra],
  };
}

describe('the fence triggers of the source', () => {
  it('says which split moved a table and where, from the trigger arguments (quotes included), and survives stripping and a snapshot', () => {
    expect(fencesOf(catalog())).toEqual([{ table: 'public.orders', database: "billing 'db'", split: 'o-brien' }]);
    const stripped = stripToolObjects(catalog());
    expect(stripped.tables.find((t) => t.name === 'orders')!.triggers).toEqual([]);
    expect(stripped.fences).toEqual([{ table: 'public.orders', database: "billing 'db'", split: 'o-brien' }]);
    // A snapshot holds the stripped catalog: stripping it again keeps what it says.
    expect(stripToolObjects(JSON.parse(JSON.stringify(stripped)) as Catalog).fences).toEqual(stripped.fences);
  });

  it('ignores a trigger of that name that is not the fence', () => {
    const c = new CatalogBuilder().table('orders').build();
    c.tables[0]!.triggers.push({ ...fenceTrigger('x', 'y'), definition: 'CREATE TRIGGER "cloudphone_split_fence" BEFORE INSERT ON "public"."orders" FOR EACH ROW EXECUTE FUNCTION "public"."audit"()' });
    expect(fencesOf(c)).toEqual([]);
  });
});

describe('earlierWaves', () => {
  const source = { split: 'devices', database: 'core', systemIdentifier: '7' };

  it('takes the fenced tables of other splits of the same source from the journal, with service, database and date', () => {
    const records: WaveRecord[] = [
      { split: 'billing', plan: wavePlan('core', [{ name: 'billing-service', database: 'billing_db', tables: ['public.orders', 'public.payments'] }]), systemIdentifier: '7', fencedAt: '2026-12-01T10:00:00.000Z' },
      { split: 'devices', plan: wavePlan('core', [{ name: 'device-service', database: 'dev_db', tables: ['public.devices'] }]), systemIdentifier: null, fencedAt: '2026-12-02T10:00:00.000Z' },
      { split: 'elsewhere', plan: wavePlan('other_db', [{ name: 's', database: 'd', tables: ['public.users'] }]), systemIdentifier: null, fencedAt: '2026-12-01T10:00:00.000Z' },
      { split: 'other-cluster', plan: wavePlan('core', [{ name: 's', database: 'd', tables: ['public.users'] }]), systemIdentifier: '8', fencedAt: '2026-12-01T10:00:00.000Z' },
    ];
    const moved = earlierWaves(records, [], source);
    expect(moved).toEqual([
      { table: 'public.orders', split: 'billing', service: 'billing-service', database: 'billing_db', movedAt: '2026-12-01T10:00:00.000Z', state: 'moved', via: 'journal' },
      { table: 'public.payments', split: 'billing', service: 'billing-service', database: 'billing_db', movedAt: '2026-12-01T10:00:00.000Z', state: 'moved', via: 'journal' },
    ]);
    expect(describeMoved(moved[0]!)).toBe('moved by split billing on 2026-12-01 (billing-service, database billing_db)');
  });

  it('does not count a split of a database that was dropped and made again under the same name (another OID) as an earlier wave', () => {
    const plan = wavePlan('core', [{ name: 'billing-service', database: 'billing_db', tables: ['public.orders'] }]);
    const records: WaveRecord[] = [
      { split: 'pruned', plan, systemIdentifier: '7', databaseOid: '16384', fencedAt: '2026-12-01T10:00:00.000Z' },
      { split: 'same-db', plan: wavePlan('core', [{ name: 'b', database: 'b', tables: ['public.payments'] }]), systemIdentifier: '7', databaseOid: '20001', fencedAt: '2026-12-01T10:00:00.000Z' },
      { split: 'older-journal', plan: wavePlan('core', [{ name: 'c', database: 'c', tables: ['public.users'] }]), systemIdentifier: '7', fencedAt: '2026-12-01T10:00:00.000Z' },
    ];
    const moved = earlierWaves(records, [], { ...source, databaseOid: '20001' });
    expect(moved.map((m) => [m.table, m.split])).toEqual([['public.payments', 'same-db'], ['public.users', 'older-journal']]);
    // The OID of the database planned not read (a schema file): name and cluster decide, as before.
    expect(earlierWaves(records, [], source).map((m) => m.split)).toEqual(['pruned', 'same-db', 'older-journal']);
  });

  it('counts a split whose fence is not up yet as moving them, and a fence the journal does not know as moved by the split it names', () => {
    const records: WaveRecord[] = [{ split: 'billing', plan: wavePlan('core', [{ name: 'billing-service', database: 'billing_db', tables: ['public.payments'] }]), systemIdentifier: null, fencedAt: null }];
    const moved = earlierWaves(records, [{ table: 'public.orders', database: 'billing_db', split: 'old-wave' }, { table: 'public.users', database: 'x', split: 'devices' }], source);
    expect(moved.map((m) => [m.table, m.split, m.state, m.via])).toEqual([
      ['public.orders', 'old-wave', 'moved', 'fence'],
      ['public.payments', 'billing', 'moving', 'journal'],
    ]);
    expect(describeMoved(moved[0]!)).toContain('as its fence in the source says');
    expect(describeMoved(moved[1]!)).toContain('has not fenced it yet');
  });

  it('leaves out a split whose run stopped at its preflight (it changed nothing), and says per table which a split applied in part has fenced', () => {
    const stopped: WaveRecord = { split: 'failed', plan: wavePlan('core', [{ name: 'f', database: 'f_db', tables: ['public.payments'] }]), systemIdentifier: null, fencedAt: null, changed: false };
    expect(earlierWaves([stopped], [], source)).toEqual([]);
    const part: WaveRecord = {
      split: 'billing',
      plan: wavePlan('core', [{ name: 'billing-service', database: 'b_db', tables: ['public.orders'] }, { name: 'pay-service', database: 'p_db', tables: ['public.payments'] }]),
      systemIdentifier: null,
      fencedAt: '2026-12-01T10:00:00.000Z',
    };
    const moved = earlierWaves([part], [{ table: 'public.orders', database: 'b_db', split: 'billing' }], source);
    expect(moved.map((m) => [m.table, m.state, m.movedAt])).toEqual([
      ['public.orders', 'moved', '2026-12-01T10:00:00.000Z'],
      ['public.payments', 'moving', null],
    ]);
  });
});

describe('a plan checked against the splits made since', () => {
  const copy = (table: string): Step => ({
    id: `copy_data:x:${table}`, kind: 'copy_data', table, description: '', sql: [], dependsOn: [], target: { service: 's', server: 'source', database: 'd' },
    source: { schema: 'public', name: table.slice(7) }, columns: [], extraColumns: [], copyOut: '', copyIn: '', freeze: true, binary: true, rowsEstimate: 0, bytes: 0, range: null,
  });

  it('names every table it moves, copies or reads that another split moved', () => {
    const plan = wavePlan('core', [{ name: 'device-service', database: 'dev_db', tables: ['public.devices'] }], [copy('public.devices'), copy('public.orders')]) as Pick<Plan, 'steps' | 'services'>;
    plan.services[0]!.denormalize.push({ table: 'public.devices', column: 'pay', from: 'public.payments.amount', on: ['id'], type: 'integer' });
    const moved = earlierWaves([], [{ table: 'public.orders', database: 'b', split: 'billing' }, { table: 'public.payments', database: 'b', split: 'billing' }, { table: 'public.devices', database: 'b', split: 'x' }], { split: 'devices', database: 'core', systemIdentifier: null });
    const problems = movedSincePlan(plan, moved);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/reads a column of public\.payments, which was moved by split billing/);
    expect(problems.join('\n')).toMatch(/copies public\.orders/);
    expect(problems.join('\n')).toMatch(/moves public\.devices, which was moved by split x/);
  });

  it('names, per split, the tables the plan left alone as moved that no split moves any more (rolled back since)', () => {
    const was = (table: string, split: string) => ({ table, split, service: null, database: 'b', movedAt: null, state: 'moved' as const, via: 'journal' as const });
    const plan = { movedEarlier: [was('public.orders', 'billing'), was('public.payments', 'billing'), was('public.users', 'accounts')] };
    const still = earlierWaves([], [{ table: 'public.users', database: 'a', split: 'accounts' }], { split: 'devices', database: 'core', systemIdentifier: null });
    expect(rolledBackSincePlan(plan, still)).toEqual([
      'the plan leaves public.orders, public.payments alone as moved by split billing, which no longer fences them (rolled back since the plan was made)',
    ]);
    expect(rolledBackSincePlan({ movedEarlier: [was('public.users', 'accounts')] }, [])).toEqual([
      'the plan leaves public.users alone as moved by split accounts, which no longer fences it (rolled back since the plan was made)',
    ]);
    // Moved by another split now is still moved: the plan leaves it alone either way.
    expect(rolledBackSincePlan(plan, [...still, ...earlierWaves([], [{ table: 'public.orders', database: 'x', split: 'x' }, { table: 'public.payments', database: 'x', split: 'x' }], { split: 'devices', database: 'core', systemIdentifier: null })])).toEqual([]);
    expect(rolledBackSincePlan({}, [])).toEqual([]);
  });

  it('finds the later splits that depend on a wave (copied or read its tables), never the earlier ones or those of another source', () => {
    const wave: SplitRun = { split: 'billing', startedAt: new Date('2026-12-02'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'b', database: 'b', tables: ['public.orders'] }]) };
    const later: SplitRun = { split: 'devices', startedAt: new Date('2026-12-03'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'd', database: 'd', tables: ['public.devices'] }], [copy('public.orders')]) };
    const earlier: SplitRun = { split: 'first', startedAt: new Date('2026-12-01'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'f', database: 'f', tables: ['public.users'] }], [copy('public.orders')]) };
    const otherSource: SplitRun = { split: 'far', startedAt: new Date('2026-12-04'), systemIdentifier: null, plan: wavePlan('elsewhere', [{ name: 'f', database: 'f', tables: ['public.x'] }], [copy('public.orders')]) };
    const independent: SplitRun = { split: 'rest', startedAt: new Date('2026-12-05'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'r', database: 'r', tables: ['public.users'] }]) };
    const deps = waveDependents(wave, [wave, later, earlier, otherSource, independent]);
    expect(deps).toEqual([{ split: 'devices', table: 'public.orders', uses: 'copies' }]);
    expect(describeDependent(deps[0]!)).toBe('split devices copied public.orders');
    expect(waveDependents(later, [wave, later, earlier, independent])).toEqual([]);
  });

  it('counts a later split of the same source that retires it: the wave\'s tables would come back to a read-only database', () => {
    const wave: SplitRun = { split: 'billing', startedAt: new Date('2026-12-02'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'b', database: 'b', tables: ['public.orders'] }]) };
    const retire: Step = { id: 'schedule_retention:core', kind: 'schedule_retention', description: '', sql: [], dependsOn: [], database: 'core', days: 7, roles: [], retire: true, tables: [] };
    const last: SplitRun = { split: 'rest', startedAt: new Date('2026-12-03'), systemIdentifier: null, plan: wavePlan('core', [{ name: 'r', database: 'r', tables: ['public.users'] }], [retire]) };
    const deps = waveDependents(wave, [wave, last]);
    expect(deps).toEqual([{ split: 'rest', table: 'core', uses: 'retires' }]);
    expect(describeDependent(deps[0]!)).toBe('split rest retires the source core (read-only, a backup): this split\'s tables would come back to a database no service may write');
    // Without retire it is independent.
    expect(waveDependents(wave, [wave, { ...last, plan: wavePlan('core', [{ name: 'r', database: 'r', tables: ['public.users'] }]) }])).toEqual([]);
    // Its run stopped at its preflight (Synapse's third wave, a password refused): it retired nothing, and blocks nothing.
    expect(waveDependents(wave, [wave, { ...last, changed: false }])).toEqual([]);
    expect(waveDependents(wave, [wave, { ...last, changed: false, live: true }])).toEqual([{ split: 'rest', table: 'core', uses: 'retires' }]);
  });
});
