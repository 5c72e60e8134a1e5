import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planConfigEdit, planConfigEdits, type ConfigTarget } from '../../../src/config/edit.js';
import { StepFailedError } from '../../../src/errors.js';
import type { ConfigEntry } from '../../../src/manifest/model.js';
import type { Pools } from '../../../src/pg/pools.js';
import type { Plan, RepointConfigStep } from '../../../src/plan/model.js';
import type { CreatedObject, ProgressEvent, StepContext } from '../../../src/steps/handler.js';
import {
  configBackupsFromCreated,
  repointConfig,
  restoreConfigFiles,
  type RepointConfigDetail,
} from '../../../src/steps/repoint-config.js';

const ENV = '# user service\nDB_HOST=localhost\nDB_PASSWORD=hunter2\nDB_DATABASE=cloudphone_core\nDATABASE_URL="postgres://svc:hunter2@localhost:5432/cloudphone_core?sslmode=disable"\n';
const YAML = 'database:\n  name: cloudphone_core # shared\n  port: 5432\n';
const MODULE = "TypeOrmModule.forRoot({\n  database: 'cloudphone_core',\n  password: 'hunter2',\n});\n";

const SERVERS: Record<string, string> = { source: 'postgres://admin:adminpw@localhost:5432/cloudphone_core' };
const TARGET = { service: 'user-service', server: 'source', database: 'cloudphone_user' };
const CONFIG_TARGET: ConfigTarget = { database: 'cloudphone_user', serverUrl: SERVERS.source!, sameServer: true };

const ENTRIES: ConfigEntry[] = [
  { file: 'svc/.env', key: 'DB_DATABASE', value: '{database}' },
  { file: 'svc/.env', key: 'DATABASE_URL', value: '{url}' },
  { file: 'svc/values.yaml', key: 'database.name', value: '{database}' },
  { file: 'svc/app.module.ts', replace: "'cloudphone_core'", with: "'{database}'" },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cps-repoint-'));
  await mkdir(join(dir, 'svc'));
  await writeFile(join(dir, 'svc/.env'), ENV);
  await writeFile(join(dir, 'svc/values.yaml'), YAML);
  await writeFile(join(dir, 'svc/app.module.ts'), MODULE);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An in-memory journal keyed like the real one (kind, server, name). */
function fakeJournal(): { created: CreatedObject[]; journal: StepContext['journal'] } {
  const created: CreatedObject[] = [];
  return {
    created,
    journal: {
      result: () => Promise.resolve(undefined),
      recordCreated(o) {
        const i = created.findIndex((c) => c.kind === o.kind && c.server === o.server && c.name === o.name);
        if (i >= 0) created[i] = o;
        else created.push(o);
        return Promise.resolve();
      },
      created: () => Promise.resolve([...created]),
    },
  };
}

function context(journal: StepContext['journal'], events: ProgressEvent[] = []): StepContext {
  return {
    plan: { steps: [] } as unknown as Plan, // repoint_config reads the other repoint_config steps: none here
    pools: { serverUrl: (s: string) => SERVERS[s]! } as unknown as Pools, // only serverUrl is used
    env: { ...process.env, SERVICE_NAME: 'user-service' },
    journal,
    snapshot: () => Promise.reject(new Error('not used')),
    progress: { emit: (e) => events.push(e) },
    signal: new AbortController().signal,
    baseDir: dir,
    now: () => new Date(),
  };
}

async function step(restart: string | null = null, entries = ENTRIES): Promise<RepointConfigStep> {
  const planned = await planConfigEdits(dir, entries.map((entry) => ({ entry, target: CONFIG_TARGET })));
  return {
    id: 'repoint_config:cloudphone_user',
    kind: 'repoint_config',
    service: 'user-service',
    description: 'repoint',
    sql: [],
    dependsOn: [],
    target: TARGET,
    edits: planned.map((p) => p.edit),
    restart,
  };
}

const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');

describe('repointConfig.render', () => {
  it('shows each entry and its masked diff as SQL comments, then the restart command', async () => {
    const lines = repointConfig.render(await step('pm2 restart user-service'));
    expect(lines.every((l) => l.startsWith('-- '))).toBe(true);
    expect(lines).toContain('-- config svc/.env: DB_DATABASE=');
    expect(lines).toContain('-- -DB_DATABASE=cloudphone_core');
    expect(lines).toContain('-- +DB_DATABASE=cloudphone_user');
    expect(lines).toContain(`-- config svc/app.module.ts: replace "'cloudphone_core'"`);
    expect(lines[lines.length - 1]).toBe('-- then run: pm2 restart user-service');
    expect(lines.join('\n')).not.toContain('hunter2');
  });
});

describe('repointConfig.run', () => {
  it('repoints every file, keeps a secret-free backup in the journal, and a second run changes nothing', async () => {
    const s = await step();
    const { created, journal } = fakeJournal();
    const result = await repointConfig.run(context(journal), s);

    expect(await read('svc/.env')).toBe(
      ENV.replace('DB_DATABASE=cloudphone_core', 'DB_DATABASE=cloudphone_user').replace('5432/cloudphone_core?', '5432/cloudphone_user?'),
    );
    expect(await read('svc/values.yaml')).toBe('database:\n  name: cloudphone_user # shared\n  port: 5432\n');
    expect(await read('svc/app.module.ts')).toBe(MODULE.replace("'cloudphone_core'", "'cloudphone_user'"));

    const detail = result.detail as unknown as RepointConfigDetail;
    expect(detail.files.map((f) => f.file)).toEqual(['svc/.env', 'svc/values.yaml', 'svc/app.module.ts']);
    expect(created.filter((c) => c.kind === 'config')).toHaveLength(3);
    expect(JSON.stringify(result.detail)).not.toContain('hunter2');
    expect(JSON.stringify(created)).not.toContain('hunter2');

    const snapshot = await Promise.all(['svc/.env', 'svc/values.yaml', 'svc/app.module.ts'].map(read));
    const again = await repointConfig.run(context(journal), s);
    expect(await Promise.all(['svc/.env', 'svc/values.yaml', 'svc/app.module.ts'].map(read))).toEqual(snapshot);
    // The step's timings (checkMs, filesMs, probeMs) differ between runs; what it did must not.
    expect(withoutTimings(again.detail)).toEqual(withoutTimings(result.detail));
    expect(withoutTimings(again.detail)).toHaveProperty('files');
  });

  it('also applies entries of one file that were planned one by one (not chained)', async () => {
    const s = await step(null, ENTRIES.slice(0, 2));
    const separate = await Promise.all(ENTRIES.slice(0, 2).map((e) => planConfigEdit(dir, e, CONFIG_TARGET)));
    const unchained: RepointConfigStep = { ...s, edits: separate.map((p) => p.edit) };
    expect(unchained.edits[1]!.beforeHash).toBe(unchained.edits[0]!.beforeHash);
    const { journal } = fakeJournal();
    await repointConfig.run(context(journal), unchained);
    const after = await read('svc/.env');
    expect(after).toContain('DB_DATABASE=cloudphone_user\n');
    expect(after).toContain('5432/cloudphone_user?sslmode=disable"');
    await repointConfig.run(context(journal), unchained);
    expect(await read('svc/.env')).toBe(after);
  });

  it('leaves a file edited after planning alone and names it', async () => {
    const s = await step();
    await writeFile(join(dir, 'svc/values.yaml'), `${YAML}# edited by hand\n`);
    const { journal } = fakeJournal();
    const err = await repointConfig.run(context(journal), s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as Error).message).toContain('svc/values.yaml');
    expect((err as Error).message).toMatch(/changed since the plan/);
    expect((err as Error).message).toMatch(/plan again/);
    expect(await read('svc/values.yaml')).toBe(`${YAML}# edited by hand\n`);
  });

  it('refuses when the edit no longer gives the planned result', async () => {
    const s = await step(null, [ENTRIES[2]!]);
    const moved: RepointConfigStep = { ...s, target: { ...TARGET, database: 'cloudphone_other' } };
    const err = await repointConfig.run(context(fakeJournal().journal), moved).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as Error).message).toContain('no longer gives the change the plan showed');
    expect(await read('svc/values.yaml')).toBe(YAML);
  });

  it('restore brings back the original bytes, once, and refuses when a file changed since', async () => {
    const s = await step();
    const { journal } = fakeJournal();
    const detail = (await repointConfig.run(context(journal), s)).detail as unknown as RepointConfigDetail;

    const report = await restoreConfigFiles(dir, detail);
    expect(report).toEqual({ restored: ['svc/.env', 'svc/values.yaml', 'svc/app.module.ts'], unchanged: [], problems: [] });
    expect(await read('svc/.env')).toBe(ENV);
    expect(await read('svc/values.yaml')).toBe(YAML);
    expect(await read('svc/app.module.ts')).toBe(MODULE);

    expect(await restoreConfigFiles(dir, detail)).toEqual({ restored: [], unchanged: ['svc/.env', 'svc/values.yaml', 'svc/app.module.ts'], problems: [] });

    await repointConfig.run(context(journal), s);
    await writeFile(join(dir, 'svc/values.yaml'), 'database:\n  name: changed\n');
    const refused = await restoreConfigFiles(dir, detail);
    expect(refused.problems).toEqual([{ file: 'svc/values.yaml', problem: expect.stringContaining('changed since it was repointed') }]);
    expect(refused.restored).toEqual([]);
    expect(await read('svc/.env')).not.toBe(ENV);
  });

  it('after a crash between write and journal, a rerun still knows the originals', async () => {
    const s = await step();
    const { created, journal } = fakeJournal();
    await repointConfig.run(context(journal), s); // as if the run died before recording the step as done
    const rerun = (await repointConfig.run(context(journal), s)).detail as unknown as RepointConfigDetail;
    expect(rerun.files.every((f) => Array.isArray(f.hunks) && f.hunks.length > 0)).toBe(true);
    const report = await restoreConfigFiles(dir, { files: configBackupsFromCreated(created) });
    expect(report.restored).toHaveLength(3);
    expect(await read('svc/.env')).toBe(ENV);
  });

  it('runs the restart command in the manifest folder and logs its output', async () => {
    const events: ProgressEvent[] = [];
    await repointConfig.run(context(fakeJournal().journal, events), await step('echo "restarting $SERVICE_NAME in $(pwd)"; echo note >&2'));
    const logs = events.flatMap((e) => (e.type === 'log' ? [`${e.level}:${e.message}`] : []));
    expect(logs).toContain(`info:restarting user-service in ${dir}`);
    expect(logs).toContain('warn:note');
  });

  it('a failing restart fails the step with its output, the files staying repointed', async () => {
    const s = await step('echo "pm2: process not found" >&2; exit 3');
    const err = await repointConfig.run(context(fakeJournal().journal), s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as Error).message).toContain('exited with 3');
    expect((err as Error).message).toContain('pm2: process not found');
    expect(await read('svc/values.yaml')).toContain('cloudphone_user');
  });
});

function withoutTimings(detail: unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(detail as Record<string, unknown>).filter(([k]) => !k.endsWith('Ms')));
}
