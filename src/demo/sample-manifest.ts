import { SAMPLE_IGNORE, SAMPLE_SERVICES, serviceFiles, type SampleService } from './sample-services.js';

/**
 * Every environment variable a sample manifest may reference. `BILLING_PG_URL` is
 * used only with `secondServer`; `CLOUDPHONE_CORE_URL`, `SPLIT_CONTROL_URL` and
 * `BILLING_PG_URL` are replaced by literals when the matching option is given.
 */
export const SAMPLE_ENV_VARS: readonly string[] = [
  'CLOUDPHONE_CORE_URL',
  'SPLIT_CONTROL_URL',
  'BILLING_PG_URL',
  ...SAMPLE_SERVICES.map((s) => passwordVar(s)),
];

/** The values `env` gives to the variables a sample manifest may reference (unset ones left out). */
export function pickVars(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(SAMPLE_ENV_VARS.flatMap((v) => (env[v] === undefined ? [] : [[v, env[v]!]])));
}

export interface SampleManifestOptions {
  /** Prepended to the split name, every database and every role (e.g. a test's uniquePrefix()). */
  prefix?: string;
  /** A literal source URL instead of `${CLOUDPHONE_CORE_URL}`. */
  sourceUrl?: string;
  /** Add each service's `config` entries for the files written by writeServicesTree(). */
  /** Folder of the services tree relative to the manifest (default: the manifest's own folder). */
  configDir?: string;
  withConfig?: boolean;
  /** Put billing-service on the server `billing-pg`. */
  secondServer?: boolean;
  /** A literal control URL instead of `${SPLIT_CONTROL_URL}`; null leaves `control` out (its default). */
  controlUrl?: string | null;
  /** With secondServer: a literal URL for `billing-pg` instead of `${BILLING_PG_URL}`. */
  billingServerUrl?: string;
  /** One wave of the split (SPEC §7): its name, its services and what it leaves in the source. */
  wave?: SampleWave;
}

/** A wave of the sample split: the services it moves; `ignore` replaces the sample's; `retire` ends the source. */
export interface SampleWave {
  name: string;
  comment: string;
  services: readonly string[];
  ignore: readonly string[];
  retire: boolean;
  /** The config files sit outside the manifest's folder (`outside: true` on each entry). */
  outside?: boolean;
}

function at(opts: SampleManifestOptions, file: string): string {
  return opts.configDir ? `${opts.configDir.replace(/\/$/, '')}/${file}` : file;
}

function passwordVar(s: SampleService): string {
  return `${s.key.toUpperCase()}_DB_PASSWORD`;
}

/** A YAML scalar as a person would write it: plain when safe, else single-quoted, else a JSON string (valid YAML). */
function q(value: string): string {
  if (/^[A-Za-z_.][A-Za-z0-9_./-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(value)) return value;
  if (!/['\n\r\t]/.test(value)) return `'${value}'`;
  return JSON.stringify(value);
}

function list(items: readonly string[], indent: string): string {
  return items.length === 0 ? ' []' : items.map((i) => `\n${indent}- ${q(i)}`).join('');
}

function serviceYaml(s: SampleService, opts: SampleManifestOptions, prefix: string): string {
  const lines = [`  ${s.name}:`, `    database: ${prefix}cloudphone_${s.key}`];
  if (opts.secondServer && s.key === 'billing') lines.push('    server: billing-pg');
  lines.push(
    '    role:',
    `      name: ${prefix}cloudphone_${s.key}_svc`,
    `      password: \${${passwordVar(s)}}`,
    `    tables:${list(s.tables, '      ')}`,
  );
  if (s.copies.length > 0) lines.push(`    copies: # read-only copies of tables another service owns${list(s.copies, '      ')}`);
  if (s.denormalize.length > 0) {
    lines.push('    denormalize:');
    for (const d of s.denormalize) {
      lines.push(`      - table: ${q(d.table)}`, `        column: ${q(d.column)}`, `        from: ${q(d.from)}`);
      if (d.on.length === 1) lines.push(`        on: ${q(d.on[0]!)}`);
      else if (d.on.length > 1) lines.push(`        on:${list(d.on, '          ')}`);
    }
  }
  if (opts.withConfig) {
    const f = serviceFiles(s.name);
    lines.push(
      '    config:',
      `      - file: ${q(at(opts, f.env))}`,
      '        key: DB_DATABASE',
      // The service logs in as its own role from now on (its password stays where the service keeps secrets).
      `      - file: ${q(at(opts, f.env))}`,
      '        key: DB_USERNAME',
      `        value: ${prefix}cloudphone_${s.key}_svc`,
      `      - file: ${q(at(opts, f.env))}`,
      '        key: DATABASE_URL',
      `        value: ${q('{url}')}`,
      `      - file: ${q(at(opts, f.appModule))}`,
      `        replace: ${q("'cloudphone_core'")}`,
      `        with: ${q("'{database}'")}`,
      `      - file: ${q(at(opts, f.values))}`,
      '        key: database.name',
      // atlas.hcl is shared by every service: each replaces its own env's URL.
      `      - file: ${q(at(opts, 'atlas.hcl'))}`,
      `        replace: ${q(`/cloudphone_core?search_path=public&sslmode=disable&application_name=${s.name}"`)}`,
      `        with: ${q(`/{database}?search_path=public&sslmode=disable&application_name=${s.name}"`)}`,
    );
    if (opts.wave?.outside) {
      for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.startsWith('      - file: ')) lines.splice(i + 1, 0, '        outside: true');
    }
  }
  if (s.port !== null) lines.push(`    health: http://localhost:${s.port}/health`);
  return lines.join('\n');
}

/**
 * The manifest (SPEC §1) splitting the sample `cloudphone_core` into the six service
 * databases, as YAML text. The split is named `<prefix>cloudphone` so that splits of
 * different prefixes never share a journal or a lock. Config file paths are relative
 * to the folder the manifest is written in (where writeServicesTree() wrote the tree).
 */
export function sampleManifest(opts: SampleManifestOptions = {}): string {
  const prefix = opts.prefix ?? '';
  const wave = opts.wave;
  const out = [
    wave ? `# ${wave.comment}` : '# Split of the shared cloudphone_core database into one database per service.',
    'version: 1',
    `name: ${q(`${prefix}${wave?.name ?? 'cloudphone'}`)}`,
    'source:',
    `  url: ${opts.sourceUrl === undefined ? '${CLOUDPHONE_CORE_URL}' : q(opts.sourceUrl)}`,
    '  schemas: [public]',
    // The single split retires the source; a wave only when it is the last one.
    ...(!wave ? ['  retire: true # what stays here is legacy: the whole database becomes the backup'] : []),
    ...(wave?.retire ? ['  retire: true # what stays is legacy: the whole database is retired after this wave'] : []),
  ];
  if (opts.controlUrl !== null) {
    out.push('control:', `  url: ${opts.controlUrl === undefined ? '${SPLIT_CONTROL_URL}' : q(opts.controlUrl)}`);
  }
  if (opts.secondServer) {
    out.push('servers:', `  billing-pg: ${opts.billingServerUrl === undefined ? '${BILLING_PG_URL}' : q(opts.billingServerUrl)}`);
  }
  out.push('mode: offline', 'retention:', '  days: 7', 'services:');
  for (const s of SAMPLE_SERVICES) if (!wave || wave.services.includes(s.name)) out.push(serviceYaml(s, opts, prefix));
  if (wave && wave.ignore.length > SAMPLE_IGNORE.length) {
    out.push('# Left in the source: the tables of the later waves (still in use), ORM bookkeeping, old imports, a report over two services.');
  } else out.push('# Left in the source: ORM bookkeeping, old imports, and a report over two services.');
  out.push(`ignore:${list(wave?.ignore ?? SAMPLE_IGNORE, '  ')}`);
  return `${out.join('\n')}\n`;
}
