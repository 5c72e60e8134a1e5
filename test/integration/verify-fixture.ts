import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Pools } from '../../src/pg/pools.js';
import { fenceSql } from '../../src/steps/fence-source.js';
import { copySql } from '../../src/steps/copy-data.js';
import { lateralLookup, lookupColumn, type Lookup } from '../../src/steps/denormalize-lookup.js';
import type { ConfigEdit, CopyDataStep, Plan, ServicePlan, Step, TargetRef } from '../../src/plan/model.js';
import { createDatabase, query, uniquePrefix, withDatabase } from '../harness/servers.js';

/**
 * A split already "applied" by hand: a source database and two target databases built
 * by running the same DDL and data script, a fence on the source, service roles with
 * CONNECT only on their own database, a config file, and a hand-made Plan describing it.
 * Service "users" moves users (integer PK), settings (text PK) and events (no PK);
 * service "devices" moves devices, whose foreign key to users is dropped and replaced by
 * a denormalized column user_name.
 */

export const TYPES_DDL = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`;

export const USERS_DDL = [
  TYPES_DDL,
  `CREATE TABLE users (
     id serial PRIMARY KEY,
     username text NOT NULL,
     status text DEFAULT 'active',
     mood mood,
     moods mood[],
     balance numeric(12,2) CONSTRAINT users_balance_check CHECK (balance >= 0),
     created_at timestamptz,
     score float8,
     doc jsonb,
     raw json,
     tags text[],
     avatar bytea,
     pos point,
     wait interval
   )`,
  `CREATE INDEX users_username_idx ON users (username)`,
  `CREATE TABLE settings (code text PRIMARY KEY, value text, updated_at timestamp, ratio real)`,
  `CREATE TABLE events (kind text, payload jsonb, at timestamptz, n int)`,
];

export const USERS_DATA = [
  `INSERT INTO users (username, status, mood, moods, balance, created_at, score, doc, raw, tags, avatar, pos, wait)
   SELECT 'user' || g,
          CASE WHEN g % 7 = 0 THEN 'blocked' ELSE 'active' END,
          (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood,
          ARRAY[(ARRAY['sad', 'ok', 'happy'])[1 + g % 3], 'happy']::mood[],
          round((g * 1.37)::numeric, 2),
          timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes 11.123456 seconds',
          CASE g % 5 WHEN 0 THEN '-0'::float8 WHEN 1 THEN 'NaN'::float8 WHEN 2 THEN 'Infinity'::float8 ELSE g / 3.0 END,
          jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 4), 'f', g / 7.0),
          ('{"k":  ' || g || ', "z": [1,  2]}')::json,
          CASE WHEN g % 11 = 0 THEN NULL ELSE ARRAY['t' || g, NULL, 'x y'] END,
          decode(md5(g::text), 'hex'),
          point(g / 3.0, -g),
          g * interval '1 day 3 hours 0.5 seconds'
   FROM generate_series(1, 3000) AS g`,
  `INSERT INTO settings SELECT 'k' || lpad(g::text, 5, '0'), 'value ' || g, timestamp '2023-06-01 12:00:00' + g * interval '1 hour', g / 9.0
   FROM generate_series(1, 1500) AS g`,
  `INSERT INTO events SELECT 'kind' || (g % 13), jsonb_build_object('g', g % 1700), timestamptz '2024-02-01 00:00:00+00' + (g % 1700) * interval '1 minute', g % 1700
   FROM generate_series(1, 2000) AS g`,
];

export const DEVICES_SOURCE_DDL = `CREATE TABLE devices (id bigint PRIMARY KEY, user_id int CONSTRAINT devices_user_id_fkey REFERENCES users (id), name text NOT NULL)`;
export const DEVICES_TARGET_DDL = `CREATE TABLE devices (id bigint PRIMARY KEY, user_id int, name text NOT NULL, user_name text)`;
export const DEVICES_DATA = `INSERT INTO devices (id, user_id, name) SELECT g, 1 + (g * 7) % 3000, 'phone-' || g FROM generate_series(1, 500) AS g`;
export const DEVICES_DENORMALIZE = `UPDATE devices SET user_name = 'user' || user_id`;

export const COLUMNS: Record<string, string[]> = {
  'public.users': ['id', 'username', 'status', 'mood', 'moods', 'balance', 'created_at', 'score', 'doc', 'raw', 'tags', 'avatar', 'pos', 'wait'],
  'public.settings': ['code', 'value', 'updated_at', 'ratio'],
  'public.events': ['kind', 'payload', 'at', 'n'],
  'public.devices': ['id', 'user_id', 'name'],
};

export interface Split {
  prefix: string;
  sourceUrl: string;
  /** Server URL (database `postgres`) of the targets. */
  targetServer: string;
  /** Name of the targets' server in the plan ("source" when both are on one server). */
  targetServerName: string;
  sourceDb: string;
  usersDb: string;
  devicesDb: string;
  usersUrl: string;
  devicesUrl: string;
  roles: { users: string; devices: string };
  passwords: Record<string, string | null>;
  baseDir: string;
  plan: Plan;
  servers: Record<string, string>;
  pools: Pools;
  cleanup(): Promise<void>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function run(url: string, statements: string[]): Promise<void> {
  for (const s of statements) await query(url, s);
}

/** devices.user_name as the plan fills it: users.username of the row devices.user_id points to. */
const USER_NAME_LOOKUP: Lookup = { table: { schema: 'public', name: 'users' }, partitioned: false, alias: 'd1', on: [{ local: 'user_id', remote: 'id' }], columns: ['username'] };

function copyStep(table: string, service: string, target: TargetRef, extra: string[] = []): CopyDataStep {
  const [schema, name] = table.split('.') as [string, string];
  // The copy query the plan would carry, with the lookup of each denormalized column (devices.user_name only).
  const copy = copySql({
    source: { schema, name },
    columns: COLUMNS[table]!,
    extra: extra.map((e) => ({ name: e, expression: lookupColumn(USER_NAME_LOOKUP, 'username') })),
    joins: extra.length > 0 ? [lateralLookup('s', USER_NAME_LOOKUP)] : [],
    binary: false,
    freeze: true,
    where: null,
  });
  return {
    id: `copy_data:${target.database}:${table}`,
    kind: 'copy_data',
    service,
    table,
    description: `copy ${table}`,
    sql: [],
    dependsOn: [],
    target,
    source: { schema, name },
    columns: COLUMNS[table]!,
    extraColumns: extra,
    copyOut: copy.copyOut,
    copyIn: copy.copyIn,
    freeze: true,
    binary: false,
    rowsEstimate: 0,
    bytes: 0,
    range: null,
  };
}

function service(name: string, database: string, server: string, role: string, tables: string[], extra: Partial<ServicePlan> = {}): ServicePlan {
  return {
    name,
    database,
    server,
    role,
    tables: tables.map((t) => ({ name: t, rowsEstimate: 0, bytes: 0 })),
    copies: [],
    views: [],
    droppedForeignKeys: [],
    denormalize: [],
    ...extra,
  };
}

/**
 * Builds the whole fixture. `sourceServer` and `targetServer` are superuser URLs to
 * database `postgres`; when they differ the targets' server is named "main" in the plan.
 */
export async function buildSplit(opts: { sourceServer: string; targetServer: string }): Promise<Split> {
  const prefix = uniquePrefix();
  const sourceDb = `${prefix}core`;
  const usersDb = `${prefix}users`;
  const devicesDb = `${prefix}devices`;
  const sameServer = opts.sourceServer === opts.targetServer;
  const targetServerName = sameServer ? 'source' : 'main';
  const sourceUrl = await createDatabase(opts.sourceServer, sourceDb);
  const usersUrl = await createDatabase(opts.targetServer, usersDb);
  const devicesUrl = await createDatabase(opts.targetServer, devicesDb);
  const roles = { users: `${prefix}users_svc`, devices: `${prefix}devices_svc` };
  const passwords = { [roles.users]: 'pw-users-1', [roles.devices]: 'pw-devices-1' };

  await run(sourceUrl, [...USERS_DDL, DEVICES_SOURCE_DDL, ...USERS_DATA, DEVICES_DATA]);
  await run(usersUrl, [...USERS_DDL, ...USERS_DATA]);
  await run(devicesUrl, [DEVICES_TARGET_DDL, DEVICES_DATA, DEVICES_DENORMALIZE]);

  const usersTarget: TargetRef = { service: 'users', server: targetServerName, database: usersDb };
  const devicesTarget: TargetRef = { service: 'devices', server: targetServerName, database: devicesDb };
  const moved = [
    { table: 'public.users', database: usersDb },
    { table: 'public.settings', database: usersDb },
    { table: 'public.events', database: usersDb },
    { table: 'public.devices', database: devicesDb },
  ];
  await query(sourceUrl, `BEGIN; ${fenceSql('verify-test', moved).join(';\n')}; COMMIT`);

  for (const [role, password] of Object.entries(passwords)) {
    await query(opts.targetServer, `CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
    if (!sameServer) await query(opts.sourceServer, `CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
  }
  for (const [db, role] of [[usersDb, roles.users], [devicesDb, roles.devices]] as const) {
    await query(opts.targetServer, `REVOKE CONNECT, TEMPORARY ON DATABASE "${db}" FROM PUBLIC`);
    await query(opts.targetServer, `GRANT CONNECT ON DATABASE "${db}" TO "${role}"`);
  }
  await query(opts.sourceServer, `REVOKE CONNECT, TEMPORARY ON DATABASE "${sourceDb}" FROM PUBLIC`);

  const baseDir = await mkdtemp(join(tmpdir(), 'cps-verify-'));
  await mkdir(join(baseDir, 'users'));
  const before = 'DB_HOST=localhost\nDB_DATABASE=cloudphone_core\n';
  const after = `DB_HOST=localhost\nDB_DATABASE=${usersDb}\n`;
  await writeFile(join(baseDir, 'users', '.env'), after);
  const edit: ConfigEdit = {
    file: 'users/.env',
    entry: 'DB_DATABASE=',
    beforeHash: sha256(before),
    afterHash: sha256(after),
    diff: '',
    spec: { file: 'users/.env', key: 'DB_DATABASE', value: '{database}' },
  };

  const steps: Step[] = [
    {
      id: `fence_source:${sourceDb}`,
      kind: 'fence_source',
      description: 'fence',
      sql: [],
      dependsOn: [],
      tables: moved.map((m) => m.table),
    },
    copyStep('public.users', 'users', usersTarget),
    copyStep('public.settings', 'users', usersTarget),
    copyStep('public.events', 'users', usersTarget),
    copyStep('public.devices', 'devices', devicesTarget, ['user_name']),
    {
      id: `sync_sequences:${usersDb}`,
      kind: 'sync_sequences',
      service: 'users',
      description: 'sequences',
      sql: [],
      dependsOn: [],
      target: usersTarget,
      sequences: [{ source: { schema: 'public', name: 'users_id_seq' }, target: { schema: 'public', name: 'users_id_seq' } }],
    },
    {
      id: `repoint_config:${usersDb}`,
      kind: 'repoint_config',
      service: 'users',
      description: 'config',
      sql: [],
      dependsOn: [],
      target: usersTarget,
      edits: [edit],
      restart: null,
    },
  ];

  const plan: Plan = {
    formatVersion: 1,
    toolVersion: 'test',
    name: 'verify-test',
    mode: 'offline',
    manifest: { path: 'split.yaml', text: '' },
    sourceFingerprint: '',
    tableFingerprints: {},
    source: { database: sourceDb, serverVersion: '' },
    services: [
      service('users', usersDb, targetServerName, roles.users, ['public.users', 'public.settings', 'public.events']),
      service('devices', devicesDb, targetServerName, roles.devices, ['public.devices'], {
        droppedForeignKeys: [
          {
            table: 'public.devices',
            constraint: 'devices_user_id_fkey',
            columns: ['user_id'],
            references: 'public.users(id)',
            referencedService: 'users',
            reason: 'cross-service',
            denormalizedBy: ['users.username'],
            suggestion: '',
          },
        ],
        denormalize: [{ table: 'public.devices', column: 'user_name', from: 'public.users.username', on: ['user_id'], type: 'text' }],
      }),
    ],
    steps,
    warnings: [],
    errors: [],
  };

  const servers: Record<string, string> = sameServer ? { source: sourceUrl } : { source: sourceUrl, main: opts.targetServer };
  const pools = new Pools(servers, 8, 'verify-test');
  return {
    prefix,
    sourceUrl,
    targetServer: opts.targetServer,
    targetServerName,
    sourceDb,
    usersDb,
    devicesDb,
    usersUrl,
    devicesUrl,
    roles,
    passwords,
    baseDir,
    plan,
    servers,
    pools,
    async cleanup() {
      await pools.end();
      await rm(baseDir, { recursive: true, force: true });
      await query(opts.sourceServer, `DROP DATABASE IF EXISTS "${sourceDb}" WITH (FORCE)`).catch(() => undefined);
      for (const db of [usersDb, devicesDb]) await query(opts.targetServer, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
      for (const role of Object.keys(passwords)) {
        await query(opts.targetServer, `DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
        if (!sameServer) await query(opts.sourceServer, `DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
      }
    },
  };
}

export { withDatabase };
