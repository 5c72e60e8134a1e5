import type { RestoreConfigStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { configBackupsFromCreated, restoreConfigFiles } from '../config/restore.js';
import { restartServices } from '../rollback/restart-services.js';
import { planSecrets } from '../engine/plan-secrets.js';

/**
 * `restore_config` (rollback after cutover, once the source takes writes again): every
 * config file the split repointed gets its original back, byte for byte, from the
 * journal's backups (all or nothing: a file changed since it was repointed stops the
 * step, naming it, and nothing is written), then each service's restart command runs
 * again. A restored file is left as it is by a rerun. A failing restart is reported, not fatal.
 */
export const restoreConfig: StepHandler<'restore_config'> = {
  render: (step) => [
    '-- every config file repointed by the split: its original content back, from the journal',
    ...step.restarts.map((r) => `-- then run: ${r.command}`),
  ],
  async run(ctx, step: RestoreConfigStep) {
    const backups = configBackupsFromCreated(await ctx.journal.created());
    const restored = await restoreConfigFiles(ctx.baseDir, { files: backups });
    if (restored.problems.length > 0) {
      throw new Error(
        `config files changed since the split repointed them, so none was restored:\n  ${restored.problems.map((p) => `${p.file}: ${p.problem}`).join('\n  ')}\n` +
          "put back what the split wrote in those files (or restore them by hand from the plan's diff), then rerun rollback",
      );
    }
    const restarts = await restartServices(step.restarts, ctx.baseDir, ctx.env, planSecrets(ctx.plan, ctx.env));
    for (const r of restarts.filter((x) => !x.ok)) {
      ctx.progress.emit({ type: 'log', level: 'warn', message: `restart of ${r.service} failed: ${r.command}\n${r.output}` });
    }
    return { detail: { restored: restored.restored, unchanged: restored.unchanged, restarts } };
  },
};
