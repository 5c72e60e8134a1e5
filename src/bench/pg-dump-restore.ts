import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withDatabase } from './bench-clusters.js';
import { timed, type BenchContext, type Contender } from './contender.js';
import { createTargets, tableArgs } from './raw-pipe.js';
import { pgBin, runScript } from './shell.js';

type Section = 'pre-data' | 'data' | 'post-data';

function urls(ctx: BenchContext, database: string): { SRC: string; DST: string } {
  return { SRC: withDatabase(ctx.clusters.source.url, ctx.dataset.database), DST: withDatabase(ctx.clusters.target.url, database) };
}

async function available(): Promise<string | null> {
  for (const p of ['pg_dump', 'pg_restore']) if (!existsSync(pgBin(p))) return `${pgBin(p)} is missing`;
  return null;
}

/**
 * (b) `pg_dump -Fd -j<jobs> -Z0` of each service's tables to disk, then
 * `pg_restore -j<jobs>` of it, section by section (pre-data, data, post-data).
 * The dump counts as data time.
 */
export const pgDumpDirectory: Contender = {
  key: 'b',
  name: 'pg_dump -Fd -j2 -Z0 + pg_restore -j2',
  unavailable: available,
  async run(ctx) {
    const t0 = performance.now();
    const dir = (db: string) => join(ctx.workDir, db);
    const env = { PG_DUMP: pgBin('pg_dump'), PG_RESTORE: pgBin('pg_restore'), JOBS: String(ctx.jobs) };
    const dump = await timed(async () => {
      for (const s of ctx.dataset.services) {
        await runScript(`"$PG_DUMP" -Fd -j "$JOBS" -Z0 -f "$DIR" ${tableArgs(s.tables)} "$SRC"`, { ...env, ...urls(ctx, s.database), DIR: dir(s.database) });
      }
    });
    const restore = (section: Section, jobs: number) => async () => {
      for (const s of ctx.dataset.services) {
        await runScript(`"$PG_RESTORE" --section=${section} -j ${jobs} --exit-on-error -d "$DST" "$DIR"`, { ...env, ...urls(ctx, s.database), DIR: dir(s.database) });
      }
    };
    const schema = await timed(async () => {
      await createTargets(ctx);
      await restore('pre-data', 1)();
    });
    const data = dump + (await timed(restore('data', ctx.jobs)));
    const indexes = await timed(restore('post-data', ctx.jobs));
    return { phases: { schema, data, indexes, total: performance.now() - t0 }, peakRssKb: null, notes: ['dump written to disk, then restored'] };
  },
};

/** (c) `pg_dump -Fc | pg_restore` (default compression), one pipe per service and section. */
export const pgDumpCustom: Contender = {
  key: 'c',
  name: 'pg_dump -Fc | pg_restore (default compression)',
  unavailable: available,
  async run(ctx) {
    const t0 = performance.now();
    const section = (name: Section) => async () => {
      for (const s of ctx.dataset.services) {
        await runScript(`"$PG_DUMP" -Fc --section=${name} ${tableArgs(s.tables)} "$SRC" | "$PG_RESTORE" --exit-on-error -d "$DST"`, {
          PG_DUMP: pgBin('pg_dump'),
          PG_RESTORE: pgBin('pg_restore'),
          ...urls(ctx, s.database),
        });
      }
    };
    const schema = await timed(async () => {
      await createTargets(ctx);
      await section('pre-data')();
    });
    const data = await timed(section('data'));
    const indexes = await timed(section('post-data'));
    return { phases: { schema, data, indexes, total: performance.now() - t0 }, peakRssKb: null, notes: [] };
  },
};
