import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { copyMethodOf } from '../../../src/manifest/copy-method.js';
import { baseManifest, toYaml } from './helpers.js';

describe('copy: relay | server', () => {
  it('is relay when nothing says otherwise', () => {
    const m = parseManifest(toYaml(baseManifest()), 'plans/split.yaml');
    expect(m.copy).toBeUndefined();
    expect(m.services.map((s) => copyMethodOf(m, s))).toEqual(['relay', 'relay']);
  });

  it('is read globally and per service, the service winning', () => {
    const doc = baseManifest();
    doc.copy = 'server';
    (doc.services as Record<string, Record<string, unknown>>)['device-service']!.copy = 'relay';
    const m = parseManifest(toYaml(doc), 'plans/split.yaml');
    expect(m.copy).toBe('server');
    expect(Object.fromEntries(m.services.map((s) => [s.name, copyMethodOf(m, s)]))).toEqual({ 'user-service': 'server', 'device-service': 'relay' });
  });
});
