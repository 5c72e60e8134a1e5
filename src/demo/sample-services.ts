import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A column a service adds to one of its tables, filled from another service's table. */
export interface SampleDenormalize {
  table: string;
  column: string;
  from: string;
  /** Empty: the one foreign key from `table` to the table of `from`. */
  on: string[];
}

/**
 * One service of the sample platform. `key` names its database (`cloudphone_<key>`),
 * its role (`cloudphone_<key>_svc`) and its password variable (`<KEY>_DB_PASSWORD`).
 * `tables` are written as in the manifest: globs allowed, and a name holding quotes
 * SQL-quoted (`"Billing ""Audit"" Log"`). Together with every
 * service's tables and the ignore list they cover every table of the sample schema
 * exactly once. Partitions are not listed: they move with their parent.
 */
export interface SampleService {
  name: string;
  key: string;
  /** HTTP port of the service; null when it is not started (no health check). */
  port: number | null;
  tables: string[];
  copies: string[];
  denormalize: SampleDenormalize[];
  /** Feature modules imported by its app.module.ts. */
  modules: string[];
}

export const SAMPLE_SERVICES: readonly SampleService[] = [
  {
    name: 'api-gateway', key: 'auth', port: 30000,
    tables: ['api_keys', 'refresh_tokens'], copies: ['users', 'roles'], denormalize: [],
    modules: ['AuthModule', 'ProxyModule'],
  },
  {
    name: 'user-service', key: 'user', port: 30001,
    tables: ['tenants', 'departments', 'users', 'roles', 'permissions', 'role_permissions', 'user_*', 'quotas', 'audit_logs'],
    copies: [], denormalize: [], modules: ['UsersModule', 'RolesModule', 'QuotasModule'],
  },
  {
    name: 'device-service', key: 'device', port: 30002,
    tables: ['nodes', 'devices', 'device_snapshots', 'device_events'], copies: [],
    denormalize: [{ table: 'devices', column: 'user_name', from: 'users.username', on: ['user_id'] }],
    modules: ['DevicesModule', 'NodesModule', 'SnapshotsModule'],
  },
  {
    name: 'app-service', key: 'app', port: 30003,
    tables: ['applications', 'device_applications'], copies: [], denormalize: [], modules: ['AppsModule'],
  },
  {
    name: 'billing-service', key: 'billing', port: 30005,
    tables: ['plans', 'coupons', 'orders', 'order_items', 'payments', 'invoices', 'balance_transactions', 'usage_records',
      '"Billing ""Audit"" Log"'],
    copies: [],
    denormalize: [
      { table: 'orders', column: 'user_name', from: 'users.username', on: [] },
      { table: 'orders', column: 'device_name', from: 'devices.name', on: [] },
    ],
    modules: ['OrdersModule', 'PaymentsModule', 'InvoicesModule'],
  },
  { name: 'notification-service', key: 'notification', port: null, tables: [], copies: [], denormalize: [], modules: ['NotificationsModule'] },
];

/** Tables (and the cross-service view) left in the source. */
export const SAMPLE_IGNORE: readonly string[] = ['typeorm_metadata', 'migrations', 'legacy_*', 'device_owner_summary'];

/** Files of one service, relative to the tree's root (what a manifest's `config` points at). */
export function serviceFiles(service: string): { env: string; appModule: string; values: string } {
  return {
    env: `services/${service}/.env`,
    appModule: `services/${service}/src/app.module.ts`,
    values: `deploy/helm/${service}/values.yaml`,
  };
}

/**
 * The made-up credentials of the sample services' config files: what a team's local
 * `.env` typically holds. Repointing must keep them byte for byte; nothing logs in with them.
 */
export const SAMPLE_LEGACY_USER = 'svc';
export const SAMPLE_LEGACY_PASSWORD = 'secret';

/**
 * The legacy connection URL (database cloudphone_core, on the server of `sourceUrl`), with
 * the legacy user and password unless `credentials` is false.
 */
function legacyUrl(sourceUrl: string, params = 'sslmode=disable', credentials = true): string {
  const u = new URL(sourceUrl);
  const legacy = new URL(`postgres://${u.hostname}:${u.port || '5432'}/cloudphone_core?${params}`);
  if (credentials) {
    legacy.username = SAMPLE_LEGACY_USER;
    legacy.password = SAMPLE_LEGACY_PASSWORD;
  }
  return legacy.toString();
}

/**
 * Each service quotes its variables its own way, as real trees do. The services log in
 * with DB_USERNAME and DB_PASSWORD; DATABASE_URL says where, without credentials, so that
 * the split can give each service its own role (DB_USERNAME) while `{url}` repoints the URL.
 */
function dotenv(s: SampleService, sourceUrl: string): string {
  const u = new URL(sourceUrl);
  const url = legacyUrl(sourceUrl, 'sslmode=disable', false);
  const exp = s.key === 'device' ? 'export ' : '';
  const quotedUrl = s.key === 'billing' ? `'${url}'` : s.key === 'device' ? `"${url}"` : url;
  return `# ${s.name}: local development settings
# Copied from .env.example. Never commit production secrets.
NODE_ENV=development
${s.port === null ? '# PORT is not set: the service is not deployed yet' : `PORT=${s.port}`}
SERVICE_NAME=${s.name}

# PostgreSQL (TypeORM)
${exp}DB_HOST=${u.hostname}
${exp}DB_PORT=${u.port || '5432'}
${exp}DB_USERNAME=${SAMPLE_LEGACY_USER}
${exp}DB_PASSWORD="secret"
${exp}DB_DATABASE=cloudphone_core
${exp}DATABASE_URL=${quotedUrl}

# Messaging and auth
RABBITMQ_URL=amqp://guest:guest@localhost:5672/cloudphone
REDIS_URL=redis://localhost:6379/0
JWT_SECRET="dev only, change me"
LOG_LEVEL=debug
`;
}

function appModule(s: SampleService): string {
  const imports = s.modules.map((m) => `import { ${m} } from './${m.replace(/Module$/, '').toLowerCase()}/${m.replace(/Module$/, '').toLowerCase()}.module';`);
  return `import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HealthModule } from './health/health.module';
${imports.join('\n')}

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    TypeOrmModule.forRoot({
      type: 'postgres',
      host: process.env.DB_HOST || 'localhost',
      port: parseInt(process.env.DB_PORT || '5432', 10),
      username: process.env.DB_USERNAME || 'postgres',
      password: process.env.DB_PASSWORD || 'postgres',
      database: 'cloudphone_core',
      autoLoadEntities: true,
      // Never true outside local experiments: it rewrites the schema at boot.
      synchronize: false,
      logging: process.env.NODE_ENV === 'development',
    }),
    HealthModule,
    ${s.modules.join(',\n    ')},
  ],
})
export class AppModule {}
`;
}

function values(s: SampleService): string {
  return `# Default values for ${s.name}.
# This is a YAML-formatted file; declare variables to be passed into the templates.
replicaCount: ${s.port === null ? 0 : 2}

image:
  repository: registry.cloudphone.internal/${s.name}
  tag: "1.8.3"
  pullPolicy: IfNotPresent

service:
  type: ClusterIP
  port: ${s.port ?? 30006}

# PostgreSQL connection (shared database until the split)
database:
  host: postgres.cloudphone.svc.cluster.local
  port: 5432
  name: cloudphone_core # the database name
  user: svc
  existingSecret: ${s.name}-db # key "password"

resources:
  limits:
    cpu: 500m
    memory: 512Mi
  requests:
    cpu: 100m
    memory: 256Mi
`;
}

function atlas(sourceUrl: string): string {
  const envs = SAMPLE_SERVICES.map(
    (s) => `env "${s.name}" {
  url = "${legacyUrl(sourceUrl, `search_path=public&sslmode=disable&application_name=${s.name}`)}"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/${s.name}/migrations"
  }
}`,
  );
  return `// Atlas project file: one env per service.
// Usage: atlas migrate diff --env user-service
${envs.join('\n\n')}
`;
}

/**
 * Writes the sample NestJS monorepo under `dir`: `services/<service>/.env`,
 * `services/<service>/src/app.module.ts`, `deploy/helm/<service>/values.yaml` and a
 * root `atlas.hcl`, all still pointing at `cloudphone_core` on the server of
 * `sourceUrl`. A manifest written in `dir` by `sampleManifest({ withConfig: true })`
 * repoints them.
 */
export async function writeServicesTree(dir: string, opts: { sourceUrl: string }): Promise<void> {
  const files: Array<[string, string]> = [['atlas.hcl', atlas(opts.sourceUrl)]];
  for (const s of SAMPLE_SERVICES) {
    const f = serviceFiles(s.name);
    files.push([f.env, dotenv(s, opts.sourceUrl)], [f.appModule, appModule(s)], [f.values, values(s)]);
  }
  for (const [rel, text] of files) {
    const file = join(dir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
}
