import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, servers, uniquePrefix, withDatabase } from '../../harness/servers.js';
import { SAMPLE_SERVICES, sampleManifest, writeServicesTree } from '../../fixtures/index.js';
import { sampleWaves } from '../../../src/demo/sample-waves.js';
import type { SampleWave } from '../../../src/demo/sample-manifest.js';
import { runCli, type CliResult } from './cli.js';
import { dropTestDatabases } from './drop-databases.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** One wave of the fixture: its manifest (written beside the services tree) and its split's name. */
export interface FixtureWave {
  wave: SampleWave;
  name: string;
  manifestFile: string;
  /** Runs the CLI in-process with `-m <this wave's manifest>` after the verb. */
  cli(verb: string, ...args: string[]): Promise<CliResult>;
}

/**
 * The sample database split in the three waves of plans/waves/ (billing; devices and
 * apps; the rest, retiring the source), every name prefixed with a fresh uniquePrefix(),
 * the services tree written beside the manifests, one control database for all waves.
 */
export interface SampleWavesFixture {
  prefix: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  sourceServer: string;
  sourceDb: string;
  sourceUrl: string;
  controlUrl: string;
  waves: FixtureWave[];
  /** Superuser URL of a service's new database. */
  databaseUrl(service: string): string;
  /** Writes another manifest (YAML text, `${prefix}` names expected) beside the waves and returns its path. */
  writeManifest(file: string, text: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function sampleWavesFixture(opts: { template: string; prefix?: string }): Promise<SampleWavesFixture> {
  const prefix = opts.prefix ?? uniquePrefix();
  const sourceServer = withDatabase(servers().main, 'postgres');
  const sourceDb = `${prefix}cloudphone_core`;
  const sourceUrl = withDatabase(sourceServer, sourceDb);
  await query(sourceServer, `CREATE DATABASE ${q(sourceDb)} TEMPLATE ${q(opts.template)}`);
  const dir = await mkdtemp(join(tmpdir(), 'cps-waves-'));
  await writeServicesTree(dir, { sourceUrl });
  const controlUrl = withDatabase(sourceServer, `${prefix}control`);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CLOUDPHONE_CORE_URL: sourceUrl, SPLIT_CONTROL_URL: controlUrl };
  for (const s of SAMPLE_SERVICES) env[`${s.key.toUpperCase()}_DB_PASSWORD`] = `pw-${s.key}-${prefix}`;
  const waves: FixtureWave[] = [];
  for (const wave of sampleWaves()) {
    const manifestFile = join(dir, `${wave.name}.yaml`);
    await writeFile(manifestFile, sampleManifest({ prefix, withConfig: true, wave }));
    waves.push({ wave, name: `${prefix}${wave.name}`, manifestFile, cli: (verb, ...args) => runCli([verb, '-m', manifestFile, ...args], env) });
  }
  return {
    prefix,
    dir,
    env,
    sourceServer,
    sourceDb,
    sourceUrl,
    controlUrl,
    waves,
    databaseUrl: (service) => withDatabase(sourceServer, `${prefix}cloudphone_${SAMPLE_SERVICES.find((s) => s.name === service)!.key}`),
    async writeManifest(file, text) {
      const path = join(dir, file);
      await writeFile(path, text);
      return path;
    },
    async cleanup() {
      await dropTestDatabases(
        [sourceDb, `${prefix}control`, ...SAMPLE_SERVICES.map((s) => `${prefix}cloudphone_${s.key}`)].map((database) => ({ server: sourceServer, database })),
      );
      for (const s of SAMPLE_SERVICES) await query(sourceServer, `DROP ROLE IF EXISTS ${q(`${prefix}cloudphone_${s.key}_svc`)}`).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
