import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest file under `dir`, by modification time. */
function newest(dir: string): { file: string; ms: number } {
  let best = { file: dir, ms: 0 };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, e.name);
    const n = e.isDirectory() ? newest(f) : { file: f, ms: statSync(f).mtimeMs };
    if (n.ms > best.ms) best = n;
  }
  return best;
}

/**
 * Why `built` (a file the build writes on every run) is older than the sources it was
 * built from, or null when it is not: a source file under `sourceDirs` changed since.
 */
export function staleBuild(built: string, sourceDirs: string[]): string | null {
  const at = statSync(built).mtimeMs;
  for (const dir of sourceDirs) {
    const n = newest(dir);
    if (n.ms > at) return `${built} is older than ${n.file}`;
  }
  return null;
}
