import { existsSync } from 'node:fs';
import { createDatabases, sql, withDatabase } from './bench-clusters.js';
import { copyQueue, timed, type BenchContext, type Contender } from './contender.js';
import { mapLimit, pgBin, runScript } from './shell.js';

/** `-t public.x` for each table (pg_dump matches patterns: names here are plain). */
export function tableArgs(tables: readonly string[]): string {
  return tables.map((t) => `-t 'public.${t}'`).join(' ');
}

/** Creates the service databases and, in each, what `pg_dump -t` leaves out (the enum type). */
export async function createTargets(ctx: BenchContext): Promise<void> {
  const target = ctx.clusters.target.url;
  await createDatabases(target, ctx.dataset.services.map((s) => s.database));
  for (const s of ctx.dataset.services) {
    for (const statement of ctx.dataset.preamble) await sql(withDatabase(target, s.database), statement);
  }
}

/** Runs `pg_dump -s --section=<section> -t ...` of each service's tables into its database through psql. */
export async function schemaSection(ctx: BenchContext, section: 'pre-data' | 'post-data'): Promise<void> {
  for (const s of ctx.dataset.services) {
    await runScript(`"$PG_DUMP" -s --section=${section} ${tableArgs(s.tables)} "$SRC" | "$PSQL" -q -X -v ON_ERROR_STOP=1 "$DST" >/dev/null`, {
      PG_DUMP: pgBin('pg_dump'),
      PSQL: pgBin('psql'),
      SRC: withDatabase(ctx.clusters.source.url, ctx.dataset.database),
      DST: withDatabase(ctx.clusters.target.url, s.database),
    });
  }
}

/**
 * (a) The raw pipe: pre-data schema by pg_dump, then per table
 * `psql COPY TO STDOUT (binary) | psql BEGIN; TRUNCATE; COPY FROM STDIN (binary, FREEZE); COMMIT`,
 * `jobs` pipes at once, largest tables first; then post-data by pg_dump, in one session.
 */
export const rawPipe: Contender = {
  key: 'a',
  name: 'raw pipe (psql | psql, binary, FREEZE)',
  async unavailable() {
    return existsSync(pgBin('psql')) ? null : `${pgBin('psql')} is missing`;
  },
  async run(ctx) {
    const t0 = performance.now();
    const schema = await timed(async () => {
      await createTargets(ctx);
      await schemaSection(ctx, 'pre-data');
    });
    const data = await timed(() =>
      mapLimit(copyQueue(ctx.dataset), ctx.jobs, async (item) => {
        const t = `public.${item.table}`;
        await runScript(
          `"$PSQL" -X -q "$SRC" -c "$OUT" | "$PSQL" -X -q -v ON_ERROR_STOP=1 "$DST" -c BEGIN -c "$TRUNC" -c "$IN" -c COMMIT >/dev/null`,
          {
            PSQL: pgBin('psql'),
            SRC: withDatabase(ctx.clusters.source.url, ctx.dataset.database),
            DST: withDatabase(ctx.clusters.target.url, item.database),
            OUT: `COPY ${t} TO STDOUT (FORMAT binary)`,
            TRUNC: `TRUNCATE ONLY ${t}`,
            IN: `COPY ${t} FROM STDIN (FORMAT binary, FREEZE)`,
          },
        );
      }),
    );
    const indexes = await timed(() => schemaSection(ctx, 'post-data'));
    return { phases: { schema, data, indexes, total: performance.now() - t0 }, peakRssKb: null, notes: [] };
  },
};
