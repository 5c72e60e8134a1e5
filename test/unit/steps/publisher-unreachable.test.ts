import { describe, expect, it } from 'vitest';
import { publisherUnreachable } from '../../../src/steps/start-replication.js';
import type { StepContext } from '../../../src/steps/handler.js';
import type { StartReplicationStep } from '../../../src/plan/model.js';

/** Only what the message reads of a step context: the servers' URLs and the source database. */
const ctx = {
  pools: { serverUrl: (s: string) => (s === 'source' ? 'postgres://split@core.db:5432/postgres' : 'postgres://split@pg-b.db:5433/postgres') },
  plan: { source: { database: 'hydra' } },
} as unknown as StepContext;
const step = { subscription: 'cps_1_sub', slot: 'cps_1_slot', publication: 'cps_1_pub', target: { service: 'tokens', server: 'pg-b', database: 'hydra_tokens' } } as StartReplicationStep;

/**
 * CREATE SUBSCRIPTION raises SQLSTATE 08006 when the target server cannot connect to the
 * source (Hydra's probe: the source's pg_hba rejected the target's replication role). It
 * read as this tool's own connection lost, "rerun to resume", which fails the same way.
 */
describe('a target server that cannot reach the source', () => {
  it('is said as such, with the pg_hba line to add and the slot and publication the source keeps meanwhile', () => {
    const err = Object.assign(
      new Error('could not connect to the publisher: connection to server at "10.0.0.5", port 5432 failed: FATAL:  pg_hba.conf rejects connection for host "10.0.0.9", user "cps_1_r", database "hydra", no encryption'),
      { code: '08006' },
    );
    const said = publisherUnreachable(err, { ctx, step, role: 'cps_1_r' });
    expect(said?.message).toBe(
      'server "pg-b" (pg-b.db:5433) could not connect to the source (core.db:5432) for subscription cps_1_sub: ' +
        'could not connect to the publisher: connection to server at "10.0.0.5", port 5432 failed: FATAL:  pg_hba.conf rejects connection for host "10.0.0.9", user "cps_1_r", database "hydra", no encryption. ' +
        'A subscription connects from the target server\'s host, as role cps_1_r, to database hydra: allow that in the source\'s pg_hba.conf ' +
        '(e.g. host hydra cps_1_r <target host address> scram-sha-256) and the network path, then rerun the command; ' +
        'until then the source keeps replication slot cps_1_slot and publication cps_1_pub (a rerun uses them; rollback drops them)',
    );
    // No code of its own: the executor does not take it for its own connection lost.
    expect((said as { code?: string }).code).toBeUndefined();
  });

  it('leaves every other error alone (this tool\'s own connection lost included)', () => {
    expect(publisherUnreachable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), { ctx, step, role: 'r' })).toBeNull();
    expect(publisherUnreachable(Object.assign(new Error('connection failure'), { code: '08006' }), { ctx, step, role: 'r' })).toBeNull();
  });
});
