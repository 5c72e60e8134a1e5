import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

/** A path as the file system resolves it, symlinks included; a missing file resolves through its folder. */
async function real(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : resolve(await real(parent), relative(parent, path));
  }
}

/**
 * Where a config entry's file really is, and whether that is outside the manifest's
 * folder (`baseDir`), symlinks resolved on both sides: `../x.env`, an absolute path
 * elsewhere, or a link pointing out all are.
 */
export async function configFileLocation(baseDir: string, file: string): Promise<{ path: string; outside: boolean }> {
  const root = await real(baseDir);
  const path = await real(resolve(baseDir, file));
  const rel = relative(root, path);
  return { path, outside: rel === '' || rel.startsWith('..') || isAbsolute(rel) };
}

/** The refusal for a file outside the manifest's folder that the entry does not allow, or null. */
export async function outsideProblem(baseDir: string, entry: { file: string; outside?: boolean }): Promise<string | null> {
  if (entry.outside) return null;
  const { path, outside } = await configFileLocation(baseDir, entry.file);
  if (!outside) return null;
  return `${entry.file} resolves to ${path}, outside the manifest's folder ${baseDir}`;
}
