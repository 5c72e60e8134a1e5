import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError, ManifestError } from '../../../src/errors.js';
import { loadManifest } from '../../../src/manifest/load.js';

describe('loadManifest', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'manifest-load-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the manifest, the text as written and the absolute folder of the file', async () => {
    const text = 'version: 1\nname: x\nsource: { url: "${CORE_URL}" }\nservices: { s: { database: s_db } }\n';
    const file = path.join(dir, 'split.yaml');
    await writeFile(file, text);
    const loaded = await loadManifest(path.relative(process.cwd(), file));
    expect(loaded.text).toBe(text);
    expect(loaded.baseDir).toBe(dir);
    expect(loaded.file).toBe(path.relative(process.cwd(), file));
    expect(loaded.manifest.source.url).toBe('${CORE_URL}');
  });

  it('names the file in every problem', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nname: x\n');
    const err = await loadManifest(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).problems.map((p) => [p.file, p.path])).toEqual([[file, 'source'], [file, 'services']]);
    expect((err as ManifestError).exitCode).toBe(2);
  });

  it('says how to start when the file is missing', async () => {
    const file = path.join(dir, 'nope.yaml');
    const err = await loadManifest(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).message).toBe(`manifest not found: ${file}`);
    expect((err as BadInputError).hint).toMatch(/cloudphone-split init --from <url>/);
    expect((err as BadInputError).exitCode).toBe(2);
  });
});
