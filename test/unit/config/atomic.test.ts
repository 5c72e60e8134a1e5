import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeLeftTemporaries, writeFileAtomic } from '../../../src/config/atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cps-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the content, keeps the mode and leaves no temporary file', async () => {
    const file = join(dir, '.env');
    await writeFile(file, 'old\n');
    await chmod(file, 0o640);
    await writeFileAtomic(file, 'new ü\n');
    expect(await readFile(file, 'utf8')).toBe('new ü\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['.env']);
  });

  it('removes the temporary files a killed run left beside the file (old ones), and nothing else', async () => {
    const file = join(dir, 'atlas.hcl');
    await writeFile(file, 'old\n');
    const old = new Date(Date.now() - 5 * 60_000);
    for (const [name, text] of [['.atlas.hcl.70fdcf8e9859.tmp', 'half'], ['.atlas.hcl.backup.tmp', 'not ours'], ['.env.70fdcf8e9859.tmp', 'another file']] as const) {
      await writeFile(join(dir, name), text);
      await utimes(join(dir, name), old, old);
    }
    // Another command writing the same file at this moment (two applies started together): its temporary stays.
    await writeFile(join(dir, '.atlas.hcl.0123456789ab.tmp'), 'being written');
    await writeFileAtomic(file, 'new\n');
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect((await readdir(dir)).sort()).toEqual(['.atlas.hcl.0123456789ab.tmp', '.atlas.hcl.backup.tmp', '.env.70fdcf8e9859.tmp', 'atlas.hcl']);
  });

  it('under the split\'s lock, removes a config file\'s temporaries of any age (a run killed a moment ago), and nothing else', async () => {
    const file = join(dir, 'atlas.hcl');
    await writeFile(file, 'repointed\n');
    for (const name of ['.atlas.hcl.0123456789ab.tmp', '.atlas.hcl.backup.tmp', '.env.70fdcf8e9859.tmp']) await writeFile(join(dir, name), 'x');
    await removeLeftTemporaries(file);
    expect((await readdir(dir)).sort()).toEqual(['.atlas.hcl.backup.tmp', '.env.70fdcf8e9859.tmp', 'atlas.hcl']);
    expect(await readFile(file, 'utf8')).toBe('repointed\n');
  });

  it('writes through a symlink, keeping the link', async () => {
    const real = join(dir, 'real.yaml');
    const link = join(dir, 'link.yaml');
    await writeFile(real, 'a: 1\n');
    await symlink(real, link);
    await writeFileAtomic(link, 'a: 2\n');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).toBe('a: 2\n');
  });

  it('creates a file that does not exist', async () => {
    await writeFileAtomic(join(dir, 'n.json'), Buffer.from('{}'));
    expect(await readFile(join(dir, 'n.json'), 'utf8')).toBe('{}');
  });
});
