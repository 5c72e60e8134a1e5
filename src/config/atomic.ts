import { randomBytes } from 'node:crypto';
import { chown, open, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `file` with `text` atomically: a temporary file in the same folder is
 * written, fsynced, given the file's mode (and owner, when allowed), then renamed over
 * it, and the folder is fsynced. A reader sees the old bytes or the new ones, never a
 * mix; a crash leaves at worst a stray `.<name>.<random>.tmp`. A symlink is followed:
 * its target is replaced and the link stays.
 */
export async function writeFileAtomic(file: string, text: string | Buffer): Promise<void> {
  const target = await realpath(file).catch(() => file);
  const dir = dirname(target);
  const info = await stat(target).catch(() => null);
  await removeTemporaries(dir, basename(target), STALE_TEMPORARY_MS);
  const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', info ? info.mode & 0o7777 : 0o666);
  try {
    try {
      await handle.writeFile(text);
      if (info) {
        await handle.chmod(info.mode & 0o7777);
        await chown(tmp, info.uid, info.gid).catch(() => undefined);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** A temporary file older than this was left by a run killed between its write and its rename (a write takes milliseconds). */
const STALE_TEMPORARY_MS = 60_000;

/**
 * Removes the `.<name>.<12 hex>.tmp` files a run killed between its write and its rename
 * left beside `name` (only this module makes such names), those older than `olderThanMs`.
 * writeFileAtomic takes only old ones: a plan file is written before the split's lock is
 * taken, so two commands started together may write the same file at once, and one must
 * not take the other's temporary away mid-write.
 */
async function removeTemporaries(dir: string, name: string, olderThanMs: number): Promise<void> {
  const prefix = `.${name}.`;
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) {
    if (!e.startsWith(prefix) || !/^[0-9a-f]{12}\.tmp$/.test(e.slice(prefix.length))) continue;
    const info = await stat(join(dir, e)).catch(() => null);
    if (info && Date.now() - info.mtimeMs >= olderThanMs) await unlink(join(dir, e)).catch(() => undefined);
  }
}

/**
 * Removes every temporary a killed writeFileAtomic left beside `file`, whatever its age:
 * for files only written under the split's lock (the services' config files), where no
 * other writer of this tool can be mid-write. A run killed between a config file's write
 * and its rename, resumed at once, leaves nothing behind in the services' folders.
 */
export async function removeLeftTemporaries(file: string): Promise<void> {
  const target = await realpath(file).catch(() => file);
  await removeTemporaries(dirname(target), basename(target), 0);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems do not support fsync on a directory; the rename is done anyway.
  } finally {
    await handle.close();
  }
}
