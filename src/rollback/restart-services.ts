import { maskLine } from '../config/mask.js';
import { scrub } from '../secrets/scrubber.js';

/** How one restart command ended. */
export interface RestartResult {
  service: string;
  command: string;
  ok: boolean;
  /** Last lines of its stderr when it failed (secrets masked). */
  output: string;
}

/**
 * Runs each service's restart command in the manifest's folder, after its config was
 * put back, so the services reconnect to the old database. A failing command is
 * reported, not fatal: rollback goes on.
 */
export async function restartServices(
  restarts: Array<{ service: string; command: string }>,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  secrets: Iterable<string>,
): Promise<RestartResult[]> {
  const results: RestartResult[] = [];
  for (const { service, command } of restarts) {
    const { $ } = await import('zx/core');
    const sh = $({ shell: true, cwd: baseDir, env, prefix: '', postfix: '', quiet: true, verbose: false, nothrow: true });
    const out = await sh(Object.assign([command], { raw: [command] }));
    const tail = out.stderr
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .slice(-5)
      .map((l) => maskLine(scrub(l, secrets)))
      .join('\n');
    results.push({ service, command, ok: out.exitCode === 0, output: out.exitCode === 0 ? '' : tail });
  }
  return results;
}
