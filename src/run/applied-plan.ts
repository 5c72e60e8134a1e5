import { Journal } from '../engine/journal.js';
import { planHash } from '../engine/plan-hash.js';
import { openJournalIfExists } from '../engine/journal-open.js';
import type { Plan } from '../plan/model.js';

export { openJournalIfExists } from '../engine/journal-open.js';

/** The split's latest run, unless rolled back (rollback marks every run of the split). */
async function lastRun(journal: Journal, name: string) {
  const run = (await journal.status(name, { limit: 1 })).runs[0];
  return run && run.state !== 'rolled_back' ? run : undefined;
}

/**
 * Whether the journal records `plan` as applied: the split's latest run ran this plan
 * (same hash) and succeeded. A run killed after its last step is not finished: rerunning
 * it closes it.
 */
export async function isApplied(plan: Plan, controlUrl: string): Promise<boolean> {
  const journal = await openJournalIfExists(controlUrl);
  if (!journal) return false;
  try {
    const run = await lastRun(journal, plan.name);
    return run?.state === 'succeeded' && run.planHash === planHash(plan);
  } finally {
    await journal.close();
  }
}

/**
 * The plan of the split's last apply when it succeeded and was made from exactly this
 * manifest text: running the manifest again means that plan, whose steps are all done
 * (planning again would not find the config text it already replaced). A manifest that
 * changed since, or a split not finished, plans afresh.
 */
export async function finishedPlanOf(name: string, manifestText: string, controlUrl: string): Promise<Plan | null> {
  const journal = await openJournalIfExists(controlUrl);
  if (!journal) return null;
  try {
    const run = await lastRun(journal, name);
    if (run?.state !== 'succeeded') return null;
    const plan = await journal.lastPlan(name);
    return plan && plan.manifest.text === manifestText && planHash(plan) === run.planHash ? plan : null;
  } finally {
    await journal.close();
  }
}
