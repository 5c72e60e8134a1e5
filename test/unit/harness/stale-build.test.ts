import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staleBuild } from '../../integration/helpers/stale-build.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tree(): { built: string; src: string; deep: string } {
  dir = mkdtempSync(join(tmpdir(), 'stale-build-'));
  mkdirSync(join(dir, 'src', 'cli'), { recursive: true });
  const deep = join(dir, 'src', 'cli', 'main.ts');
  writeFileSync(deep, 'x');
  const built = join(dir, 'main.js');
  writeFileSync(built, 'x');
  utimesSync(deep, new Date(1_000_000), new Date(1_000_000));
  utimesSync(built, new Date(2_000_000), new Date(2_000_000));
  return { built, src: join(dir, 'src'), deep };
}

describe('staleBuild (integration tests refuse a dist/ older than src/)', () => {
  it('a build newer than every source is current', () => {
    const t = tree();
    expect(staleBuild(t.built, [t.src])).toBeNull();
  });

  it('a source changed after the build, however deep, makes it stale and is named', () => {
    const t = tree();
    utimesSync(t.deep, new Date(3_000_000), new Date(3_000_000));
    expect(staleBuild(t.built, [t.src])).toBe(`${t.built} is older than ${t.deep}`);
  });
});
