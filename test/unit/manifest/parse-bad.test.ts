import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { baseManifest, paths, problemsOf, toYaml } from './helpers.js';

type Doc = Record<string, unknown>;
type Services = Record<string, Record<string, unknown>>;
const services = (d: Doc): Services => d.services as Services;
const user = (d: Doc): Record<string, unknown> => services(d)['user-service']!;

/** [what, how to break the base manifest, the one expected path, message pattern, fix pattern] */
const CASES: Array<[string, (d: Doc) => void, string, RegExp, RegExp]> = [
  ['unknown top-level key', (d) => { d.sourc = { url: 'x' }; }, 'sourc', /unknown key `sourc`/, /`source`/],
  ['unknown service key', (d) => { user(d).tabels = ['x']; }, 'services.user-service.tabels', /unknown key/, /write `tables` instead/],
  ['unknown role key', (d) => { (user(d).role as Doc).passwd = 'x'; }, 'services.user-service.role.passwd', /unknown key/, /`password`/],
  ['unknown key far from any', (d) => { d.zzzzzzzz = 1; }, 'zzzzzzzz', /unknown key/, /keys allowed here are version, name, source/],
  ['version 2', (d) => { d.version = 2; }, 'version', /must be 1/, /version: 1/],
  ['version missing', (d) => { delete d.version; }, 'version', /missing/, /version: 1/],
  ['version as a string', (d) => { d.version = '1'; }, 'version', /not a string/, /version: 1/],
  ['bad split name', (d) => { d.name = 'Cloud Phone'; }, 'name', /a-z, 0-9, _ and -/, /name: cloud-phone/],
  ['source missing', (d) => { delete d.source; }, 'source', /missing/, /CLOUDPHONE_CORE_URL/],
  ['source.url a number', (d) => { d.source = { url: 5432 }; }, 'source.url', /must be a string/, /quote/],
  ['no schemas', (d) => { d.source = { url: 'u', schemas: [] }; }, 'source.schemas', /no schema/, /\[public\]/],
  ['schema listed twice', (d) => { d.source = { url: 'u', schemas: ['public', 'public'] }; }, 'source.schemas[1]', /twice/, /once/],
  ['retire as a string', (d) => { d.source = { url: 'u', retire: 'yes please' }; }, 'source.retire', /must be true or false/, /retire: true/],
  ['control as a string', (d) => { d.control = 'postgres://x'; }, 'control', /must be a mapping/, /control: \{ url:/],
  ['server named source', (d) => { d.servers = { source: '${X}' }; }, 'servers.source', /reserved/, /another name/],
  ['server URL missing', (d) => { d.servers = { 'billing-pg': null }; }, 'servers.billing-pg', /connection URL/, /BILLING_PG_URL/],
  ['mode misspelled', (d) => { d.mode = 'onlin'; }, 'mode', /offline or online/, /mode: online/],
  ['copy misspelled', (d) => { d.copy = 'servr'; }, 'copy', /relay .* or server/, /copy: server/],
  ['copy of a service unknown', (d) => { user(d).copy = 'pipe'; }, 'services.user-service.copy', /relay .* or server/, /copy: relay/],
  ['retention.days zero', (d) => { d.retention = { days: 0 }; }, 'retention.days', /positive whole number/, /days: 7/],
  ['retention.days fractional', (d) => { d.retention = { days: 1.5 }; }, 'retention.days', /positive whole number/, /days: 7/],
  ['services missing', (d) => { delete d.services; }, 'services', /missing/, /database:/],
  ['services empty', (d) => { d.services = {}; }, 'services', /no service/, /database:/],
  ['a service that is a string', (d) => { services(d)['device-service'] = 'cloudphone_device' as unknown as Doc; }, 'services.device-service', /must be a mapping/, /database:/],
  ['database missing', (d) => { delete user(d).database; }, 'services.user-service.database', /missing/, /database:/],
  ['database with capitals and a dash', (d) => { user(d).database = 'Cloud-User'; }, 'services.user-service.database', /\[a-z_\]\[a-z0-9_\$\]\*/, /write cloud_user/],
  ['database of 64 bytes', (d) => { user(d).database = 'a'.repeat(64); }, 'services.user-service.database', /longer than 63 bytes/, /write a{63}$/],
  ['database with a variable', (d) => { user(d).database = '${DB}'; }, 'services.user-service.database', /variables are not expanded/, /write/],
  ['reserved database', (d) => { user(d).database = 'postgres'; }, 'services.user-service.database', /cluster itself/, /user_service/],
  ['database of the journal', (d) => { user(d).database = 'cloudphone_split'; }, 'services.user-service.database', /journal/, /own database/],
  ['two services, one database, one server', (d) => { services(d)['device-service']!.database = 'cloudphone_user'; }, 'services.device-service.database', /already used by service user-service/, /own database/],
  ['unknown server', (d) => { d.servers = { 'billing-pg': '${B}' }; services(d)['device-service']!.server = 'billing-gp'; }, 'services.device-service.server', /unknown server "billing-gp"/, /server: billing-pg/],
  ['unknown server, nothing close', (d) => { services(d)['device-service']!.server = 'elsewhere'; }, 'services.device-service.server', /unknown server/, /servers: \{ elsewhere: \$\{ELSEWHERE_URL\} \}/],
  ['two services sharing a role', (d) => { services(d)['device-service']!.role = { name: 'cloudphone_user_svc' }; }, 'services.device-service.role.name', /already the role of service user-service/, /own role/],
  ['bad role name', (d) => { (user(d).role as Doc).name = 'User Svc'; }, 'services.user-service.role.name', /not a plain identifier/, /write user_svc/],
  ['reserved role name', (d) => { (user(d).role as Doc).name = 'pg_monitor'; }, 'services.user-service.role.name', /reserved/, /_svc/],
  ['tables as a string', (d) => { user(d).tables = 'users'; }, 'services.user-service.tables', /must be a list/, /tables: \[users\]/],
  ['a table name YAML read as a number', (d) => { user(d).tables = ['users', 2024]; }, 'services.user-service.tables[1]', /not the number 2024/, /quote it/],
  ['an unclosed quote in a table name', (d) => { user(d).tables = ['users', '"Odd name']; }, 'services.user-service.tables[1]', /not closed/, /quote/],
  ['three-part table name', (d) => { user(d).copies = ['a.b.c']; }, 'services.user-service.copies[0]', /too many dots/, /schema.name/],
  ['config with key and replace', (d) => { user(d).config = [{ file: '.env', key: 'DB', replace: 'x', with: 'y' }]; }, 'services.user-service.config[0]', /both `key` and `replace`/, /two entries/],
  ['config with neither', (d) => { user(d).config = [{ file: '.env' }]; }, 'services.user-service.config[0]', /neither/, /key: DB_DATABASE/],
  ['config replace without with', (d) => { user(d).config = [{ file: 'a.ts', replace: 'x' }]; }, 'services.user-service.config[0].with', /missing/, /with:/],
  ['config key with `with`', (d) => { user(d).config = [{ file: '.env', key: 'DB', with: 'x' }]; }, 'services.user-service.config[0].with', /goes with `replace`/, /value:/],
  ['denormalize without from', (d) => { user(d).denormalize = [{ table: 'devices', column: 'user_name' }]; }, 'services.user-service.denormalize[0].from', /missing/, /users.username/],
  ['denormalize from a bare name', (d) => { user(d).denormalize = [{ table: 'devices', column: 'c', from: 'username' }]; }, 'services.user-service.denormalize[0].from', /names 1 part/, /table.column/],
  ['denormalize into a glob', (d) => { user(d).denormalize = [{ table: 'dev*', column: 'c', from: 'users.name' }]; }, 'services.user-service.denormalize[0].table', /is a glob/, /exact table name/],
  ['denormalize on as a mapping', (d) => { user(d).denormalize = [{ table: 'devices', column: 'c', from: 'users.name', on: { a: 1 } }]; }, 'services.user-service.denormalize[0].on', /column name or a list/, /on: user_id/],
  ['unterminated ${', (d) => { d.source = { url: 'postgres://h/${DB' }; }, 'source.url', /not closed/, /\$\{VAR:-default\}/],
  ['bad variable name', (d) => { (user(d).role as Doc).password = '${1PASS}'; }, 'services.user-service.role.password', /bad variable name `\$\{1PASS\}`/, /letters, digits and _/],
  ['shell-only variable syntax', (d) => { d.servers = { b: '${B_URL:=x}' }; }, 'servers.b', /unsupported variable syntax/, /only \$\{VAR\} and \$\{VAR:-default\}/],
  ['ignore as a string', (d) => { d.ignore = 'typeorm_metadata'; }, 'ignore', /must be a list/, /ignore: \[typeorm_metadata\]/],
  ['health as a list', (d) => { user(d).health = ['x']; }, 'services.user-service.health', /must be a string/, /health:/],
];

describe('parseManifest: bad manifests', () => {
  it.each(CASES)('%s', (_what, breakIt, path, message, fix) => {
    const doc = baseManifest();
    breakIt(doc);
    const problems = problemsOf(toYaml(doc));
    expect(paths(problems)).toEqual([path]);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.fix).toMatch(fix);
    expect(problems[0]!.file).toBe('plans/split.yaml');
  });

  it('an unquoted ${VAR} inside { }: one error per line, ten lines at most, and the fix says to quote it', () => {
    const lines = ['version: 1', 'name: x', 'source: { url: "${SRC}" }', 'services:'];
    for (let i = 0; i < 40; i++) lines.push(`  s${i}: { database: d${i}, tables: [t${i}], role: { name: r${i}, password: \${PW} } }`);
    const problems = problemsOf(`${lines.join('\n')}\n`);
    expect(problems).toHaveLength(11);
    expect(new Set(problems.slice(0, 10).map((p) => p.path.split(',')[0])).size).toBe(10);
    expect(problems[0]!.path).toMatch(/^line 5, column \d+$/);
    expect(problems[0]!.fix).toBe('quote a ${VAR} written inside { } or [ ]: password: "${SVC_PW}" (unquoted, YAML reads its { as the start of a mapping)');
    expect(problems[10]!.message).toMatch(/^and \d+ more YAML syntax errors on later lines$/);
    // Quoted, the same manifest reads.
    expect(() => parseManifest(`${lines.join('\n').replaceAll('${PW}', '"${PW}"')}\n`, 'split.yaml')).not.toThrow();
  });

  it('reports YAML syntax errors with line and column', () => {
    const problems = problemsOf('version: 1\nname: x\nservices:\n  a: [b,\n');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.path).toMatch(/^line \d+, column \d+$/);
    expect(problems[0]!.message).toMatch(/^YAML syntax error/);
  });

  it('reports a duplicate key at its line', () => {
    const problems = problemsOf('version: 1\nname: x\nname: y\n');
    expect(paths(problems)).toEqual(['line 3, column 1']);
    expect(problems[0]!.fix).toMatch(/each key once/);
  });

  it('says to quote a glob that starts with *', () => {
    const problems = problemsOf('version: 1\nname: x\nsource: { url: u }\nservices: { a: { database: a, tables: [*_log] } }\n');
    expect(paths(problems)).toEqual(['line 4, column 40']);
    expect(problems[0]!.fix).toBe('quote it: "*_log"');
  });

  it('says to quote an unquoted {database} placeholder', () => {
    const problems = problemsOf('version: 1\nname: x\nsource: { url: u }\nservices:\n  a:\n    database: a\n    config:\n      - { file: .env, key: DB, value: {database} }\n');
    expect(paths(problems)).toEqual(['services.a.config[0].value']);
    expect(problems[0]!.fix).toBe('quote it: "{database}"');
  });

  it('rejects an empty document and a document that is a list', () => {
    expect(paths(problemsOf(''))).toEqual(['(top level)']);
    expect(paths(problemsOf('- a\n- b\n'))).toEqual(['(top level)']);
  });

  it('never echoes a role password that YAML read as a number', () => {
    const doc = baseManifest();
    ((doc.services as Services)['user-service']!.role as Doc).password = 982451653;
    const problems = problemsOf(toYaml(doc));
    expect(paths(problems)).toEqual(['services.user-service.role.password']);
    expect(JSON.stringify(problems)).not.toContain('982451653');
  });

  it('reports every problem at once', () => {
    const text = `version: 3
name: Cloud_Phone
source: { url: "\${CORE", schemas: [public] }
mode: fast
retention: { days: -1, keep: true }
servers: { source: x }
services:
  user-service:
    database: Cloud-User
    server: nowhere
    role: { name: shared_svc }
    tables: users
    config: [{ file: .env }]
  device-service:
    database: cloud_user
    role: { name: shared_svc }
    tabels: [devices]
ignore: [1]
`;
    const problems = problemsOf(text);
    // Section by section, then the checks across sections, then ${VAR} syntax.
    expect(paths(problems)).toEqual([
      'version',
      'name',
      'servers.source',
      'mode',
      'retention.keep',
      'retention.days',
      'services.user-service.database',
      'services.user-service.tables',
      'services.user-service.config[0]',
      'services.device-service.tabels',
      'ignore[0]',
      'services.user-service.server',
      'services.device-service.role.name',
      'source.url',
    ]);
    for (const p of problems) {
      expect(p.file).toBe('plans/split.yaml');
      expect(p.fix.length).toBeGreaterThan(0);
    }
  });
});
