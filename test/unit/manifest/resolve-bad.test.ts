import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { CatalogBuilder } from './catalog-builder.js';
import { sampleCatalog, sampleManifest } from './fixtures.js';
import { paths, thrownProblems } from './helpers.js';

const resolveSample = (edit: (t: string) => string) => thrownProblems(() => resolveManifest(sampleManifest(edit), sampleCatalog(), 'plans/split.yaml'));

/** [what, edit of the sample manifest text, expected paths, message pattern, fix pattern] */
const CASES: Array<[string, (t: string) => string, string[], RegExp, RegExp]> = [
  ['an unassigned table, suggesting the service its foreign keys point to',
    (t) => t.replace('"user_*"', 'user_sessions'), ['services.user-service.tables'],
    /table user_settings is not owned by any service and not ignored/, /add user_settings to services.user-service.tables \(its foreign keys point to user-service's tables\), or to ignore/],
  ['an unassigned table with no foreign keys',
    (t) => t.replace('typeorm_metadata, ', ''), ['ignore'],
    /typeorm_metadata is not owned/, /to the tables of one service, or to ignore/],
  ['a table owned twice',
    (t) => t.replace('[devices, nodes, events]', '[devices, nodes, events, users]'), ['services.device-service.tables[3]'],
    /users is owned twice: by user-service \(services.user-service.tables\[0\]\) and by device-service/, /copies/],
  ['a table both owned and ignored by name',
    (t) => t.replace('user_device_summary]', 'user_device_summary, roles]'), ['ignore[3]'],
    /roles is ignored but also owned by user-service/, /remove it from ignore, or from services.user-service.tables/],
  ['a copy of an ignored table',
    (t) => t.replace('copies: [users, roles]', 'copies: [users, roles, legacy_a]'), ['services.api-gateway.copies[2]'],
    /legacy_a is ignored, so no service owns it; a copy needs an owner/, /remove this copy/],
  ['a copy of a table the service owns',
    (t) => t.replace('copies: [devices]', 'copies: [devices, orders]'), ['services.billing-service.copies[1]'],
    /billing-service owns orders \(services.billing-service.tables\[0\]\) and also copies it/, /remove it from copies/],
  ['a name matching nothing, with the closest name',
    (t) => t.replace('[users, roles, permissions', '[users, roles, permisions, permissions'), ['services.user-service.tables[2]'],
    /no table named "permisions"/, /did you mean permissions\?/],
  ['a name written with its schema matching nothing: the closest name with its schema (AdventureWorks\' person.persn)',
    (t) => t.replace('[users, roles, permissions', '[users, roles, public.permisions, permissions'), ['services.user-service.tables[2]'],
    /no table named "public.permisions"/, /did you mean public.permissions\?/],
  ['a glob matching nothing',
    (t) => t.replace('payments,', 'payments, "invoice_*",'), ['services.billing-service.tables[2]'],
    /"invoice_\*" matches no table/, /check the name/],
  ['a partition named directly',
    (t) => t.replace('[devices, nodes, events]', '[devices, nodes, events_2024_01]'), ['services.device-service.tables[2]'],
    /"events_2024_01" is a partition of events; a partitioned table moves with all its partitions/, /write events instead/],
  ['a glob matching only partitions',
    (t) => t.replace('[devices, nodes, events]', '[devices, nodes, events, "events_20*"]'), ['services.device-service.tables[3]'],
    /matches only partitions of events/, /write events instead/],
  ['a view listed as a table',
    (t) => t.replace('[devices, nodes, events]', '[devices, nodes, events, active_devices]'), ['services.device-service.tables[3]'],
    /"active_devices" is a view; views move with the tables they read/, /remove it/],
  ['a view over several services',
    (t) => t.replace(', user_device_summary]', ']'), ['ignore'],
    /view public.user_device_summary reads tables of several services: public.users \(user-service\), public.devices \(device-service\)/, /add user_device_summary to ignore/],
  ['a denormalize on a table the service does not own',
    (t) => t.replace('{ table: devices, column: user_name', '{ table: orders, column: user_name'), ['services.device-service.denormalize[0].table'],
    /device-service does not own orders \(billing-service does\)/, /move this entry to services.billing-service.denormalize, or add orders to services.device-service.tables/],
  ['a denormalize from a missing column',
    (t) => t.replace('users.username', 'users.usrname'), ['services.device-service.denormalize[0].from'],
    /users has no column "usrname"/, /did you mean users.username\?/],
  ['a denormalize from a missing table',
    (t) => t.replace('users.username', 'user.username'), ['services.device-service.denormalize[0].from'],
    /no table named "user"/, /did you mean users\?/],
  ['a denormalize column that already exists',
    (t) => t.replace('column: user_name', 'column: name'), ['services.device-service.denormalize[0].column'],
    /devices already has a column "name"/, /users_username/],
  ['a denormalize with no foreign key to follow',
    (t) => t.replace('{ table: devices, column: user_name, from: users.username }', '{ table: devices, column: role_name, from: roles.name }'), ['services.device-service.denormalize[0].on'],
    /there is no foreign key from devices to roles, so the join is unknown/, /write on: \[\.\.\.\] naming the column\(s\) of devices that hold roles's key \(id\)/],
  ['a denormalize `on` naming a missing column',
    (t) => t.replace('from: users.username }', 'from: users.username, on: usr_id }'), ['services.device-service.denormalize[0].on'],
    /devices has no column usr_id/, /did you mean user_id\?/],
  ['a database that is the source database',
    (t) => t.replace('cloudphone_auth', 'cloudphone_core'), ['services.api-gateway.database'],
    /cloudphone_core is the source database itself/, /new database/],
  ['a schema the source does not have',
    (t) => t.replace('source: { url: "${CLOUDPHONE_CORE_URL}" }', 'source: { url: "${CLOUDPHONE_CORE_URL}", schemas: [public, audit] }'), ['source.schemas[1]'],
    /schema "audit" does not exist in the source database/, /remove it, or write a schema the source has \(\\dn in psql lists them\)/],
  ['a schema written as in CREATE SCHEMA HumanResources, which PostgreSQL folded to lower case (AdventureWorks)',
    (t) => t.replace('source: { url: "${CLOUDPHONE_CORE_URL}" }', 'source: { url: "${CLOUDPHONE_CORE_URL}", schemas: [public, HumanResources] }'), ['source.schemas[1]'],
    /schema "HumanResources" does not exist in the source database/, /PostgreSQL folds an unquoted name to lower case \(CREATE SCHEMA HumanResources made humanresources\): write humanresources/],
  ['a qualified name in a schema outside source.schemas',
    (t) => t.replace('[orders, payments,', '[orders, audit.payments, payments,'), ['services.billing-service.tables[1]'],
    /schema "audit" is not one of source.schemas \(public\)/, /add audit to source.schemas/],
];

describe('resolveManifest: bad manifests', () => {
  it.each(CASES)('%s', (_what, edit, expected, message, fix) => {
    const problems = resolveSample(edit);
    expect(paths(problems)).toEqual(expected);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.fix).toMatch(fix);
    expect(problems[0]!.file).toBe('plans/split.yaml');
  });

  it('reports a view over one service and a table that stays in the source', () => {
    const catalog = new CatalogBuilder().table('a').table('old').view('v', ['public.a', 'public.old']).build();
    const m = parseManifest('version: 1\nname: t\nsource: { url: u }\nservices: { s: { database: s, tables: [a] } }\nignore: [old]\n', 'm.yaml');
    const problems = thrownProblems(() => resolveManifest(m, catalog, 'm.yaml'));
    expect(paths(problems)).toEqual(['ignore']);
    expect(problems[0]!.message).toBe('view public.v reads public.a (s) and public.old, which stays in the source, so it cannot move with one service');
  });

  it('still stops at a table left in no service when the ignore entry meant for it is mistyped', () => {
    const catalog = new CatalogBuilder().table('users').table('user_settings').build();
    const m = parseManifest('version: 1\nname: t\nsource: { url: u }\nservices: { s: { database: s, tables: [users] } }\nignore: [user_settings_old]\n', 'm.yaml');
    const problems = thrownProblems(() => resolveManifest(m, catalog, 'm.yaml'));
    expect(problems.map((p) => p.message)).toEqual(['table user_settings is not owned by any service and not ignored']);
  });

  it('does not blame a view for a table that is itself unassigned', () => {
    const catalog = new CatalogBuilder().table('a').table('b').view('v', ['public.a', 'public.b']).view('w', ['public.v']).build();
    const m = parseManifest('version: 1\nname: t\nsource: { url: u }\nservices: { s: { database: s, tables: [a] } }\n', 'm.yaml');
    const problems = thrownProblems(() => resolveManifest(m, catalog, 'm.yaml'));
    expect(problems.map((p) => p.message)).toEqual(['table b is not owned by any service and not ignored']);
  });

  it('asks for a schema when an unqualified name exists in several schemas', () => {
    const catalog = new CatalogBuilder(['public', 'app']).table('public.users').table('app.users').build();
    const m = parseManifest('version: 1\nname: t\nsource: { url: u, schemas: [public, app] }\nservices: { s: { database: s, tables: [users] } }\n', 'm.yaml');
    const problems = thrownProblems(() => resolveManifest(m, catalog, 'm.yaml'));
    // Until one is chosen, both tables are also unassigned.
    expect(paths(problems)).toEqual(['services.s.tables[0]', 'ignore', 'ignore']);
    expect(problems[0]!.message).toBe('"users" exists in several schemas: app, public');
    expect(problems[0]!.fix).toBe('write it schema-qualified: app.users or public.users');
  });

  it('reports `on` columns that match no key of the referenced table', () => {
    const problems = resolveSample((t) => t.replace('from: users.username }', 'from: users.username, on: [user_id, node_id] }'));
    expect(paths(problems)).toEqual(['services.device-service.denormalize[0].on']);
    expect(problems[0]!.message).toBe('on names 2 columns, but users has no primary or unique key of 2 columns');
    expect(problems[0]!.fix).toBe("name the 1 column(s) of devices that hold users's key (id)");
  });

  it('reports a join that is ambiguous between two foreign keys', () => {
    const catalog = new CatalogBuilder()
      .table('users', { columns: ['id', 'name:text'] })
      .table('tickets', { columns: ['id', 'owner_id', 'creator_id'], fks: [{ columns: ['owner_id'], references: 'users' }, { columns: ['creator_id'], references: 'users' }] })
      .build();
    const m = parseManifest(
      'version: 1\nname: t\nsource: { url: u }\nservices:\n  u: { database: u, tables: [users] }\n  t: { database: t, tables: [tickets], denormalize: [{ table: tickets, column: owner_name, from: users.name }] }\n',
      'm.yaml',
    );
    const problems = thrownProblems(() => resolveManifest(m, catalog, 'm.yaml'));
    expect(paths(problems)).toEqual(['services.t.denormalize[0].on']);
    expect(problems[0]!.message).toBe('tickets has 2 foreign keys to users (tickets_owner_id_fkey: owner_id; tickets_creator_id_fkey: creator_id), so the join is ambiguous');
    expect(problems[0]!.fix).toBe('choose one: on: [owner_id] or on: [creator_id]');
  });

  it('suggests quoted YAML for an awkward unassigned name', () => {
    const problems = resolveSample((t) => t.replace(`, '"Billing ""Audit"" Log"'`, ''));
    expect(paths(problems)).toEqual(['services.billing-service.tables']);
    expect(problems[0]!.fix).toBe(`add '"Billing ""Audit"" Log"' to services.billing-service.tables (its foreign keys point to billing-service's tables), or to ignore`);
  });

  it('reports every problem at once', () => {
    const problems = resolveSample((t) =>
      t
        .replace('[users, roles, permissions, "user_*"]', '[users, roles, permisions, nodes]') // typo, owned twice, user_* unassigned
        .replace('copies: [devices]', 'copies: [devices, legacy_a, orders]') // copy of ignored, copy of own
        .replace('users.username', 'users.nick') // missing column
        .replace('[devices, nodes, events]', '[devices, nodes, events_2025]') // a partition
        .replace(', user_device_summary]', ', nothing_like_it]'), // view over two services, plus a warning
    );
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['services.user-service.tables[2]', 'no table named "permisions"'],
      ['services.device-service.tables[1]', 'nodes is owned twice: by user-service (services.user-service.tables[3]) and by device-service'],
      ['services.device-service.tables[2]', '"events_2025" is a partition of events; a partitioned table moves with all its partitions'],
      ['services.billing-service.copies[1]', 'legacy_a is ignored, so no service owns it; a copy needs an owner'],
      ['services.billing-service.copies[2]', 'billing-service owns orders (services.billing-service.tables[0]) and also copies it'],
      // permissions and events are not repeated here: the fixes above already name them.
      ['services.user-service.tables', 'table user_sessions is not owned by any service and not ignored'],
      ['services.user-service.tables', 'table user_settings is not owned by any service and not ignored'],
      ['ignore', 'view public.user_device_summary reads tables of several services: public.users (user-service), public.devices (device-service), so it cannot move with one service'],
      ['services.device-service.denormalize[0].from', 'users has no column "nick"'],
    ]);
  });
});
