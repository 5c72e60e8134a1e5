import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/config/atomic.js';

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
