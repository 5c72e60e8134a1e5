import { SAMPLE_IGNORE, SAMPLE_SERVICES } from './sample-services.js';
import type { SampleWave } from './sample-manifest.js';

/** The services of each wave of the sample split, in order (SPEC §7). */
const WAVE_SERVICES: ReadonlyArray<{ name: string; comment: string; services: readonly string[] }> = [
  {
    name: 'wave-1-billing',
    comment: 'Wave 1 of 3: billing-service moves first (the least entangled); every other table stays in cloudphone_core, in use.',
    services: ['billing-service'],
  },
  {
    name: 'wave-2-devices',
    comment: 'Wave 2 of 3: device-service and app-service. The billing tables wave 1 moved need no entry here.',
    services: ['device-service', 'app-service'],
  },
  {
    name: 'wave-3-rest',
    comment: 'Wave 3 of 3: the rest. What stays after it is legacy: the source is retired (read-only, then pruned).',
    services: ['user-service', 'api-gateway', 'notification-service'],
  },
];

/**
 * The sample split (sample-manifest.ts) in three waves: billing first, then devices
 * and apps, then the rest with `source.retire: true`. Each wave ignores the tables of
 * the waves after it, named one by one: a glob in `ignore` would also take the views
 * that move with a service. Their union is the single split.
 */
export function sampleWaves(opts: { outside?: boolean } = {}): SampleWave[] {
  return WAVE_SERVICES.map((w, i) => {
    const later = WAVE_SERVICES.slice(i + 1).flatMap((x) => x.services);
    const tables = SAMPLE_SERVICES.filter((s) => later.includes(s.name)).flatMap((s) => s.tables);
    return { ...w, ignore: [...tables, ...SAMPLE_IGNORE], retire: i === WAVE_SERVICES.length - 1, ...(opts.outside ? { outside: true } : {}) };
  });
}
