import { type Command, Option } from 'commander';
import { withCommon, outputFor } from '../common.js';
import type { Io } from '../io.js';
import { BadInputError } from '../../errors.js';
import { parseByteSize } from '../../format/byte-size.js';
import type { CutoverOptions } from '../commands/cutover.js';

export function registerCutover(program: Command, io: Io): void {
  withCommon(
    program
      .command('cutover')
      .summary('online mode: fence, catch up, verify, switch config, stop replication')
      .description(
        'Runs the cutover steps of the last applied online plan (from the journal): checks that every subscription is\n' +
          'within --max-lag, fences the source tables, waits until every subscription has applied the writes made before the\n' +
          'fence, fills denormalized columns, sets the sequences, compares row counts with the fenced source, drops the\n' +
          'subscriptions, slots and publications, repoints the config and schedules the retention of the old database.\n' +
          'Before the fence it fills denormalized columns, so that after it only the rows written since are refilled.\n' +
          'Before the config switch it starts reverse replication (each new database publishes its tables back, the old one\n' +
          'subscribes), so that `rollback` can bring back every write made to the new databases. `cutover --complete` ends it.\n' +
          'Prints the write downtime (fence to end of replication) and, per service, the client-visible downtime (fence to\n' +
          'the first write its new database accepted after the repoint and restart). Resumable like apply: rerun it after a failure.',
      )
      .addOption(
        new Option('--max-lag <bytes>', 'refuse to fence while a subscription is further behind (e.g. 16MB, 512kB)').argParser((v) => {
          const n = parseByteSize(v);
          if (n === null) throw new BadInputError(`--max-lag takes a size in bytes (e.g. 16MB), not ${v}`);
          return n;
        }),
      )
      .addOption(
        new Option('--catch-up-timeout <seconds>', 'how long to wait, once fenced, for every subscription to apply the last writes (default: 120)').argParser((v) => {
          const n = Number(v);
          if (!Number.isFinite(n) || n <= 0) throw new BadInputError(`--catch-up-timeout takes a number of seconds above 0, not ${v}`);
          return n;
        }),
      )
      .addOption(new Option('--jobs <n>', 'steps run in parallel (default: two per service, at least the number of cores)').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new BadInputError(`--jobs takes a whole number >= 1, not ${v}`);
        return n;
      }))
      .option('--yes', 'do not ask before fencing (required when not on a terminal)')
      .option('--complete', 'end the reverse replication for good: drops its subscriptions on the source and its publications and slots on the targets (rollback is then no longer possible)')
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split cutover -m plans/split.yaml\n  $ cloudphone-split cutover --yes --max-lag 1MB --json\n' +
          '\nA split applied service by service (`apply --service`): cutover switches every service at once, so it refuses\n' +
          '(exit 2, naming them, nothing changed) while some services are not applied; `status` shows which replicate.',
      ),
  ).action(async (opts: CutoverOptions) => {
    const { cutoverCommand, renderCutover } = await import('../commands/cutover.js');
    const out = outputFor(opts, io);
    const result = await cutoverCommand(opts, out, io.env, io);
    if (out.json) out.data(result);
    else renderCutover(result, out, opts.manifest);
    io.exit(0);
  });
}
