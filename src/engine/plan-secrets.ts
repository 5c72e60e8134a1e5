import type { Plan } from '../plan/model.js';
import { manifestTextSecrets } from '../secrets/manifest-secrets.js';

/**
 * Values that must never appear in output (SPEC §6): the passwords inside every
 * connection string the plan's manifest references through `${VAR}`, and every variable
 * whose name says it is a secret or that a password uses.
 */
export function planSecrets(plan: Pick<Plan, 'manifest'>, env: NodeJS.ProcessEnv): string[] {
  return manifestTextSecrets(plan.manifest.text, env)
    .filter((s) => s.length >= 3)
    .sort((a, b) => b.length - a.length);
}
