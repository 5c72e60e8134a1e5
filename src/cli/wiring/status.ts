import type { Command } from 'commander';
import { withCommon, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { StatusOptions } from '../commands/status.js';

export function registerStatus(program: Command, io: Io): void {
  withCommon(
    program
      .command('status')
      .summary("show the journal: each step's state, timings, rows and bytes, the last error")
      .description(
        'Reads the journal of the split named in the manifest (in the control database) and shows every run, newest first. ' +
          'Running copy steps show the rows and bytes so far (apply writes them to the journal every 2 s), their rate and time left, ' +
          'so any shell or dashboard can follow an apply that runs elsewhere. First comes each service of the split with its state ' +
          '(applied, partly applied, not applied, running, failed) and its steps done over all runs: a split applied one service ' +
          'at a time (`apply --service`) shows which services are done and that retention waits for the last.',
      )
      .option('--watch [seconds]', 'redraw every few seconds (default 2) until the run ends and, in online mode, while replication (forward or reverse) runs; with --json, one JSON document per frame', (v) => Math.max(0.2, Number(v) || 2))
      .addHelpText('after', '\nExamples:\n  $ cloudphone-split status --watch\n  $ cloudphone-split status --json | jq \'.runs[0].steps[] | select(.state == "running")\'\n  $ cloudphone-split status --json | jq \'.services[] | select(.state != "applied") | .name\'   # what apply --service has left'),
  ).action(async (opts: Omit<StatusOptions, 'watch'> & { watch?: number | true }) => {
    const { statusCommand, renderStatus, watchStatus } = await import('../commands/status.js');
    const out = outputFor(opts, io);
    if (opts.watch !== undefined) {
      const stop = new AbortController();
      const onInt = () => stop.abort();
      process.once('SIGINT', onInt);
      try {
        const { watch, ...rest } = opts;
        await watchStatus({ ...rest, watch: watch === true ? 2 : watch }, out, io.env, stop.signal);
      } finally {
        process.off('SIGINT', onInt);
      }
      io.exit(0);
      return;
    }
    const { watch: _once, ...once } = opts;
    const status = await statusCommand(once, out, io.env);
    if (out.json) out.data(status);
    else renderStatus(status, out);
    io.exit(0);
  });
}
