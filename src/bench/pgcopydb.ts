import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDatabases, withDatabase } from './bench-clusters.js';
import type { Contender } from './contender.js';
import { runCommand } from './shell.js';

const PGCOPYDB = 'pgcopydb';

/**
 * (d) `pgcopydb clone --table-jobs N --index-jobs N` with an `[include-only-table]`
 * filter, one clone per service database. Only the total is reported: pgcopydb
 * overlaps its phases and prints its own summary.
 */
export const pgcopydb: Contender = {
  key: 'd',
  name: 'pgcopydb clone --table-jobs 2 --index-jobs 2',
  async unavailable() {
    const r = await runCommand(PGCOPYDB, ['--version'], { check: false }).catch(() => null);
    if (!r || r.code !== 0) return 'pgcopydb is not installed (Debian: apt-get install -y pgcopydb)';
    return null;
  },
  async run(ctx) {
    const t0 = performance.now();
    const version = (await runCommand(PGCOPYDB, ['--version'], { check: false })).stdout.split('\n')[0]?.trim() ?? '';
    await createDatabases(ctx.clusters.target.url, ctx.dataset.services.map((s) => s.database));
    for (const s of ctx.dataset.services) {
      const filters = join(ctx.workDir, `${s.database}.ini`);
      await writeFile(filters, `[include-only-table]\n${s.tables.map((t) => `public.${t}`).join('\n')}\n`);
      await runCommand(PGCOPYDB, [
        'clone',
        '--source', withDatabase(ctx.clusters.source.url, ctx.dataset.database),
        '--target', withDatabase(ctx.clusters.target.url, s.database),
        '--table-jobs', String(ctx.jobs),
        '--index-jobs', String(ctx.jobs),
        '--filters', filters,
        '--dir', join(ctx.workDir, s.database),
        '--no-owner',
        '--no-acl',
      ], { env: { PGCOPYDB_LOG_LEVEL: 'warn' } });
    }
    return { phases: { schema: null, data: null, indexes: null, total: performance.now() - t0 }, peakRssKb: null, notes: [version] };
  },
};
