import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleManifest } from '../../../src/demo/sample-manifest.js';
import { sampleWaves } from '../../../src/demo/sample-waves.js';
import { SAMPLE_IGNORE, SAMPLE_SERVICES } from '../../../src/demo/sample-services.js';

const ROOT = join(import.meta.dirname, '../../..');

describe('the sample split in waves (plans/waves/)', () => {
  const waves = sampleWaves({ outside: true });

  it('moves every service of the single split exactly once, billing first, the rest last with retire', () => {
    expect(waves.map((w) => w.services)).toEqual([['billing-service'], ['device-service', 'app-service'], ['user-service', 'api-gateway', 'notification-service']]);
    expect(waves.flatMap((w) => w.services).sort()).toEqual(SAMPLE_SERVICES.map((s) => s.name).sort());
    expect(waves.map((w) => w.retire)).toEqual([false, false, true]);
  });

  it('ignores in each wave exactly the tables of the waves after it, and what the single split ignores', () => {
    waves.forEach((w, i) => {
      const later = waves.slice(i + 1).flatMap((x) => x.services);
      expect(w.ignore).toEqual([...SAMPLE_SERVICES.filter((s) => later.includes(s.name)).flatMap((s) => s.tables), ...SAMPLE_IGNORE]);
    });
  });

  it('is committed as generated', () => {
    for (const w of waves) {
      const committed = readFileSync(join(ROOT, 'plans/waves', `${w.name}.yaml`), 'utf8');
      expect(committed, `plans/waves/${w.name}.yaml`).toBe(sampleManifest({ withConfig: true, configDir: '../example', wave: w }));
    }
  });
});
