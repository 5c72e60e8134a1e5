import { describe, expect, it } from 'vitest';
import type { Plan, Step } from '../../../src/plan/model.js';
import { serviceDowntimes } from '../../../src/online/downtime-clock.js';

const target = (service: string) => ({ service, server: 'source', database: `db_${service}` });
const repoint = (service: string, phase?: 'cutover'): Step => ({
  id: `repoint_config:db_${service}`,
  kind: 'repoint_config',
  service,
  description: '',
  sql: [],
  dependsOn: [],
  target: target(service),
  edits: [],
  restart: null,
  ...(phase ? { phase } : {}),
});

describe('serviceDowntimes', () => {
  const plan = { steps: [repoint('a', 'cutover'), repoint('b', 'cutover'), repoint('c')] } as unknown as Plan;
  const fence = Date.parse('2026-01-01T00:00:00.000Z');

  it('runs from the fence to the write probe each cutover repoint recorded', () => {
    const results = new Map([
      ['repoint_config:db_a', { detail: { probe: { acceptedAt: '2026-01-01T00:00:01.250Z' } } }],
      ['repoint_config:db_b', { detail: { files: [] } }],
    ]);
    expect(serviceDowntimes(plan, fence, results)).toEqual([
      { service: 'a', database: 'db_a', firstWriteAt: '2026-01-01T00:00:01.250Z', ms: 1250 },
      { service: 'b', database: 'db_b', firstWriteAt: null, ms: null },
    ]);
  });

  it('is unknown without the fence time', () => {
    const results = new Map([['repoint_config:db_a', { detail: { probe: { acceptedAt: '2026-01-01T00:00:01.250Z' } } }]]);
    expect(serviceDowntimes(plan, null, results)[0]!.ms).toBeNull();
  });
});
