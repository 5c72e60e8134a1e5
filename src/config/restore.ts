import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CreatedObject } from '../steps/handler.js';
import { removeLeftTemporaries, writeFileAtomic } from './atomic.js';
import { applyReversePatch, isConfigBackup, type ConfigBackup } from './backup.js';
import { sha256 } from './edit.js';

/** What a restore did, file by file. `problems` non-empty means nothing was written. */
export interface RestoreReport {
  restored: string[];
  /** Already holding their original content (never repointed, or restored before). */
  unchanged: string[];
  problems: Array<{ file: string; problem: string }>;
}

/** The config backups recorded in the journal (`kind: 'config'`), in the order they were made. */
export function configBackupsFromCreated(created: CreatedObject[]): ConfigBackup[] {
  return created.flatMap((o) => (o.kind === 'config' && isConfigBackup(o.detail) ? [o.detail] : []));
}

/**
 * Puts repointed config files back, byte for byte, each written atomically. A file is
 * restored only when it still holds exactly what the split wrote (its hash is the
 * backup's `afterHash`); several backups of one file are undone last first. All or
 * nothing: when any file changed since it was repointed, or cannot be rebuilt
 * exactly, nothing is written and `problems` says which and why. Running it again
 * after a success changes nothing.
 */
export async function restoreConfigFiles(baseDir: string, detail: { files: ConfigBackup[] }): Promise<RestoreReport> {
  const byPath = new Map<string, ConfigBackup[]>();
  const seen = new Set<string>();
  for (const b of detail.files) {
    const id = `${b.file}\0${b.beforeHash}\0${b.afterHash}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const path = resolve(baseDir, b.file);
    byPath.set(path, [...(byPath.get(path) ?? []), b]);
  }
  const report: RestoreReport = { restored: [], unchanged: [], problems: [] };
  const writes: Array<{ path: string; file: string; bytes: Buffer }> = [];
  for (const [path, backups] of byPath) {
    const file = backups[0]!.file;
    // Rollback holds the split's lock: a temporary beside the file is a killed run's.
    await removeLeftTemporaries(path);
    const current = await readFile(path).catch(() => null);
    if (!current) {
      report.problems.push({ file, problem: 'the file no longer exists' });
      continue;
    }
    const outcome = undo(current, backups);
    if (typeof outcome === 'string') report.problems.push({ file, problem: outcome });
    else if (outcome === null) report.unchanged.push(file);
    else writes.push({ path, file, bytes: outcome });
  }
  if (report.problems.length > 0) return report;
  for (const w of writes) {
    await writeFileAtomic(w.path, w.bytes);
    report.restored.push(w.file);
  }
  return report;
}

/** The original bytes, null when already original, or a problem. */
function undo(current: Buffer, backups: ConfigBackup[]): Buffer | null | string {
  let text = current.toString('utf8');
  let hash = sha256(current);
  let changed = false;
  for (const b of [...backups].reverse()) {
    if (hash === b.beforeHash) continue;
    if (hash !== b.afterHash) {
      return 'it changed since it was repointed: restore it by hand from the diff in the plan, or put back what the split wrote and roll back again';
    }
    if (!b.hunks) return 'it was already repointed when the split started, so its original is not known';
    const original = applyReversePatch(text, b.hunks);
    if (original === null || sha256(original) !== b.beforeHash) {
      return 'its original cannot be rebuilt exactly (a secret on a changed line differs): restore it by hand from the diff in the plan';
    }
    text = original;
    hash = b.beforeHash;
    changed = true;
  }
  return changed ? Buffer.from(text, 'utf8') : null;
}
