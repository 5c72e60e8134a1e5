import type { Plan } from '../plan/model.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g;
const SECRET_NAME = /pass|secret|token|key|pwd|credential/i;

/**
 * Values that must never appear in output (SPEC §6): the passwords inside every URL
 * the manifest references through `${VAR}`, and every variable whose name says it is
 * a secret or that a role's password uses. Error texts go through `scrub` with these.
 */
export function planSecrets(plan: Pick<Plan, 'manifest' | 'steps'>, env: NodeJS.ProcessEnv): string[] {
  const names = new Set<string>();
  const passwordNames = new Set<string>();
  for (const m of plan.manifest.text.matchAll(REFERENCE)) names.add(m[1]!);
  for (const step of plan.steps) {
    if (step.kind !== 'create_role' || step.password === null) continue;
    for (const m of step.password.matchAll(REFERENCE)) passwordNames.add(m[1]!);
  }
  const out = new Set<string>();
  for (const name of [...names, ...passwordNames]) {
    const value = env[name];
    if (!value) continue;
    if (passwordNames.has(name) || SECRET_NAME.test(name)) out.add(value);
    try {
      const url = new URL(value);
      if (url.password) {
        out.add(url.password);
        out.add(decodeURIComponent(url.password));
      }
    } catch {
      // not a URL
    }
  }
  return [...out].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}
