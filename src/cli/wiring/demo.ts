import type { Command } from 'commander';
import { outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';

interface DemoCliOptions extends Omit<CommonOptions, 'manifest'> {
  keep?: boolean;
  scale?: number;
  dryRun?: boolean;
  waves?: boolean;
}

/** `--scale`: any positive number (0.1 is a tenth of the rows); anything else is the default, 1. */
function positiveScale(value: string): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

export function registerDemo(program: Command, io: Io): void {
  program
    .command('demo')
    .summary('the whole story on an embedded PostgreSQL with a sample cloud-phone database; no setup needed')
    .description(
      'Starts a throw-away PostgreSQL 18 (from npm: no install, no Docker), creates the shared database cloudphone_core\n' +
        'with ~30 tables of sample data and a services tree (.env, app.module.ts, values.yaml, atlas.hcl), then runs\n' +
        'plan, apply and verify --checksums with the normal output, and ends with a summary. Exit 0 only if verify passed.',
    )
    .option('--keep', 'leave the server running and print its URL and commands to explore it')
    .option('--dry-run', 'stop after `apply --dry-run`: print every statement and config diff')
    .option('--waves', 'split in three waves (plans/waves/): billing, then devices and apps, then the rest, while a writer keeps writing to the tables not yet moved')
    .option('--scale <n>', 'sample data scale (1 = ~60k rows)', positiveScale)
    .option('--json', 'machine output on stdout')
    .option('--no-color', 'no colors or spinners')
    .option('-v, --verbose', 'more detail, and stack traces on errors')
    .action(async (opts: DemoCliOptions) => {
      const out = outputFor({ ...opts, manifest: '' }, io);
      const { code } = opts.waves
        ? await (await import('../../demo/run-waves-demo.js')).runWavesDemo({ keep: opts.keep, scale: opts.scale }, out)
        : await (await import('../../demo/run-demo.js')).runDemo({ keep: opts.keep, scale: opts.scale, dryRun: opts.dryRun }, out);
      io.exit(code);
    });
}
