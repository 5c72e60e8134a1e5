import { closest } from './closest.js';
import { expandableFields, parseTemplate } from './expand.js';
import { splitNameProblem, suggestIdentifier, suggestSplitName } from './identifiers.js';
import type { Manifest, ManifestProblem, ServiceSpec } from './model.js';
import { describeValue, joinPath, ProblemList } from './problem-list.js';
import { isRawMap, Section } from './section.js';
import { CONNECTION_KEYS, readConnectionSettings } from './connection-settings.js';
import { readService, tableEntryChecker } from './validate-service.js';
import { readCopyMethod } from './copy-method.js';

/** The journal's database on the source server when `control` is not set. */
export const DEFAULT_CONTROL_DATABASE = 'cloudphone_split';

const TOP_KEYS = ['version', 'name', 'source', 'control', 'servers', 'mode', 'copy', 'retention', 'services', 'ignore'] as const;
const SOURCE_EXAMPLE = 'source: { url: ${CLOUDPHONE_CORE_URL}, schemas: [public] }';

function readVersion(top: Section): void {
  const v = top.get('version');
  if (v === undefined || v === null) {
    top.problems.add('version', '`version` is missing', 'write version: 1 at the top of the manifest');
  } else if (v !== 1) {
    top.problems.add(
      'version',
      `version must be 1, not ${describeValue(v)}`,
      'write version: 1 (the only manifest version this tool reads)',
    );
  }
}

function readName(top: Section): string {
  const name = top.required('name', 'name: cloudphone');
  if (name === undefined) return '';
  const reason = splitNameProblem(name);
  if (reason) top.problems.add('name', reason, `write name: ${suggestSplitName(name)}`);
  return name;
}

function readSource(top: Section): Manifest['source'] {
  const raw = top.get('source');
  if (raw === undefined || raw === null) {
    top.problems.add('source', '`source` is missing', `write ${SOURCE_EXAMPLE}`);
    return { url: '', schemas: ['public'], retire: false };
  }
  const sec = Section.open(raw, 'source', top.problems, ['url', 'schemas', 'retire', ...CONNECTION_KEYS], SOURCE_EXAMPLE);
  if (!sec) return { url: '', schemas: ['public'], retire: false };
  const url = sec.required('url', 'url: ${CLOUDPHONE_CORE_URL}') ?? '';
  const retire = readRetire(sec);
  const settings = readConnectionSettings(sec);
  const withSettings = (s: Manifest['source']): Manifest['source'] => (settings ? { ...s, settings } : s);
  if (!sec.has('schemas')) return withSettings({ url, schemas: ['public'], retire });
  const seen = new Set<string>();
  sec.list('schemas', 'schemas: [public]', (s, path) => {
    if (seen.has(s)) sec.problems.add(path, `schema ${JSON.stringify(s)} is listed twice`, 'list each schema once');
    else if (Buffer.byteLength(s) > 63) {
      sec.problems.add(
        path,
        `schema ${JSON.stringify(s)} is longer than 63 bytes`,
        'write the schema name as the source spells it',
      );
    }
    seen.add(s);
  });
  const written = sec.get('schemas');
  if (Array.isArray(written) && written.length === 0) {
    sec.problems.add('source.schemas', 'names no schema', 'write schemas: [public], or remove the key for [public]');
  }
  return withSettings({ url, schemas: [...seen], retire });
}

/** source.retire: true or false (absent or empty: false). */
function readRetire(sec: Section): boolean {
  const v = sec.get('retire');
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  sec.problems.add(
    sec.at('retire'),
    `must be true or false, not ${describeValue(v)}`,
    'write retire: true when what stays in the source is legacy (the whole database is then retired), or remove the key',
  );
  return false;
}

function readControl(top: Section): Manifest['control'] {
  const raw = top.get('control');
  if (raw === undefined || raw === null) return null;
  const sec = Section.open(raw, 'control', top.problems, ['url', ...CONNECTION_KEYS], 'control: { url: ${SPLIT_CONTROL_URL} }');
  if (!sec) return null;
  const url = sec.required('url', 'url: ${SPLIT_CONTROL_URL}') ?? '';
  const settings = readConnectionSettings(sec);
  return settings ? { url, settings } : { url };
}

/** `servers`: each a URL, or `{ url, sslmode, sslrootcert, sslcert, sslkey, passwordCommand }`. */
function readServers(top: Section): Pick<Manifest, 'servers' | 'serverSettings'> {
  const raw = top.get('servers');
  const servers: Record<string, string> = {};
  const serverSettings: Record<string, NonNullable<Manifest['serverSettings']>[string]> = {};
  const out = () => (Object.keys(serverSettings).length > 0 ? { servers, serverSettings } : { servers });
  if (raw === undefined || raw === null) return out();
  if (!isRawMap(raw)) {
    top.problems.add(
      'servers',
      `must be a mapping of server names to URLs, not ${describeValue(raw)}`,
      'write servers: { billing-pg: ${BILLING_PG_URL} }',
    );
    return out();
  }
  for (const [key, url] of raw) {
    const name = String(key);
    const path = joinPath('servers', name);
    if (name === 'source') {
      top.problems.add(
        path,
        '`source` is reserved: it always means the source database\'s server',
        'give this server another name, like source-2, and use that in `server:`',
      );
    } else if (isRawMap(url)) {
      const variable = `\${${suggestIdentifier(name).toUpperCase()}_URL}`;
      const sec = Section.open(url, path, top.problems, ['url', ...CONNECTION_KEYS], `${name}: { url: ${variable}, sslmode: verify-full }`);
      if (!sec) continue;
      const u = sec.required('url', `url: ${variable}`);
      if (u !== undefined) servers[name] = u;
      const settings = readConnectionSettings(sec);
      if (settings) serverSettings[name] = settings;
    } else if (typeof url !== 'string' || url.trim() === '') {
      top.problems.add(
        path,
        `must be a connection URL, not ${describeValue(url)}`,
        `write ${name}: \${${suggestIdentifier(name).toUpperCase()}_URL}`,
      );
    } else servers[name] = url;
  }
  return out();
}

function readMode(top: Section): Manifest['mode'] {
  const mode = top.optional('mode', 'mode: offline');
  if (mode === null || mode === undefined) return 'offline';
  if (mode === 'offline' || mode === 'online') return mode;
  const near = closest(mode, ['offline', 'online'], 3);
  top.problems.add('mode', `mode must be offline or online, not ${JSON.stringify(mode)}`, `write mode: ${near ?? 'offline'}`);
  return 'offline';
}

function copyOf(top: Section): Pick<Manifest, 'copy'> {
  const copy = readCopyMethod(top);
  return copy ? { copy } : {};
}

function readRetention(top: Section): Manifest['retention'] {
  const raw = top.get('retention');
  if (raw === undefined || raw === null) return { days: 7, archive: null };
  const sec = Section.open(raw, 'retention', top.problems, ['days', 'archive'], 'retention: { days: 7 }');
  if (!sec) return { days: 7, archive: null };
  const d = sec.get('days');
  let days = 7;
  if (typeof d === 'number' && Number.isInteger(d) && d > 0) days = d;
  else if (d !== undefined && d !== null) {
    sec.problems.add('retention.days', `must be a positive whole number of days, not ${describeValue(d)}`, 'write days: 7');
  }
  return { days, archive: sec.optional('archive', 'archive: backups/') ?? null };
}

function readServices(top: Section): ServiceSpec[] {
  const raw = top.get('services');
  const example = 'services: { user-service: { database: cloudphone_user, tables: [users] } }';
  if (raw === undefined || raw === null) {
    top.problems.add('services', '`services` is missing', `write ${example}`);
    return [];
  }
  if (!isRawMap(raw)) {
    top.problems.add('services', `must be a mapping of service names, not ${describeValue(raw)}`, `write ${example}`);
    return [];
  }
  if (raw.size === 0) top.problems.add('services', 'names no service', `write ${example}`);
  const out: ServiceSpec[] = [];
  for (const [key, value] of raw) {
    const s = readService(value, String(key), top.problems);
    if (s) out.push(s);
  }
  return out;
}

/** Checks that need several sections: server names, unique databases and roles. */
function crossCheck(m: Manifest, problems: ProblemList): void {
  const serverNames = ['source', ...Object.keys(m.servers)];
  const databases = new Map<string, string>();
  const roles = new Map<string, string>();
  if (m.control === null) databases.set(`source\0${DEFAULT_CONTROL_DATABASE}`, '(the journal: control is not set)');
  for (const s of m.services) {
    const base = joinPath('services', s.name);
    if (!serverNames.includes(s.server)) {
      const near = closest(s.server, serverNames);
      const variable = `\${${suggestIdentifier(s.server).toUpperCase()}_URL}`;
      problems.add(
        `${base}.server`,
        `unknown server ${JSON.stringify(s.server)}: it is neither "source" nor listed under servers`,
        near ? `write server: ${near}` : `add it under servers: { ${s.server}: ${variable} }, or write server: source`,
      );
    }
    if (s.database) {
      const key = `${s.server}\0${s.database}`;
      const other = databases.get(key);
      if (other) {
        problems.add(
          `${base}.database`,
          `database ${s.database} on server ${s.server} is already used by ${other}`,
          `give each service its own database, like ${suggestIdentifier(`${s.database}_${s.name}`)}`,
        );
      } else databases.set(key, `service ${s.name}`);
    }
    if (s.role?.name) {
      const other = roles.get(s.role.name);
      if (other) {
        problems.add(
          `${base}.role.name`,
          `role ${s.role.name} is already the role of service ${other}`,
          `give each service its own role, like ${suggestIdentifier(`${s.database}_svc`)}`,
        );
      } else roles.set(s.role.name, s.name);
    }
  }
}

/**
 * Structural validation of a parsed YAML document (maps as `Map`) against SPEC §1,
 * with defaults filled. Returns every problem found; `manifest` is only meaningful
 * when there are none.
 */
export function validateManifest(raw: unknown, file: string): { manifest: Manifest; problems: ManifestProblem[] } {
  const problems = new ProblemList(file);
  const empty: Manifest = {
    version: 1,
    name: '',
    source: { url: '', schemas: ['public'], retire: false },
    control: null,
    servers: {},
    mode: 'offline',
    retention: { days: 7, archive: null },
    services: [],
    ignore: [],
  };
  if (raw === null || raw === undefined) {
    problems.add(
      '',
      'the manifest is empty',
      'write version: 1, name, source and services, or start from `cloudphone-split init --from <url>`',
    );
    return { manifest: empty, problems: problems.items };
  }
  const top = Section.open(raw, '', problems, TOP_KEYS, 'a mapping with version, name, source and services');
  if (!top) return { manifest: empty, problems: problems.items };
  readVersion(top);
  const manifest: Manifest = {
    version: 1,
    name: readName(top),
    source: readSource(top),
    control: readControl(top),
    ...readServers(top),
    mode: readMode(top),
    ...copyOf(top),
    retention: readRetention(top),
    services: readServices(top),
    ignore: top.list('ignore', 'ignore: [typeorm_metadata, "legacy_*"]', tableEntryChecker(problems, true)),
  };
  crossCheck(manifest, problems);
  for (const f of expandableFields(manifest)) {
    const t = parseTemplate(f.value);
    if (!Array.isArray(t)) problems.add(f.path, t.error, t.fix);
  }
  return { manifest, problems: problems.items };
}
