import { describe, expect, it } from 'vitest';
import { orphanChecks } from '../../../src/verify/orphans.js';
import { Pools } from '../../../src/pg/pools.js';
import type { VerifyContext } from '../../../src/verify/check.js';
import { toyPlan } from '../engine/toy-plan.js';

describe('the orphans check of a later wave', () => {
  it('does not compare with the source a key to a table an earlier split moved (its rows there are a stale backup), and says where to look', async () => {
    const base = toyPlan('devices', []);
    const plan = {
      ...base,
      services: [{
        name: 'reader', database: 'reader_db', server: 'source', role: null, tables: [], copies: [], views: [], denormalize: [],
        droppedForeignKeys: [{
          table: 'public.feeds', constraint: 'feeds_user_id_fkey', columns: ['user_id'], references: 'public.users(id)', referencedService: 'identity',
          reason: 'cross-service' as const, denormalizedBy: [], suggestion: '', movedBy: 'wave-1',
        }],
      }],
      movedEarlier: [{ table: 'public.users', split: 'wave-1', service: 'identity', database: 'identity_db', movedAt: null, state: 'moved' as const, via: 'journal' as const }],
    };
    // No server is ever asked: the pools are empty.
    const ctx: VerifyContext = { plan, pools: new Pools({}, 1), servers: {}, rolePasswords: {}, baseDir: '.', jobs: 1, progress: () => undefined };
    const [check] = await orphanChecks(ctx);
    expect(check).toMatchObject({ kind: 'orphans', ok: true, table: 'public.feeds' });
    expect(check!.detail).toBe(
      'not compared: public.users(id) was moved by split wave-1 to database identity_db, and its rows in the source are a stale, fenced backup; ' +
        'compare public.feeds(user_id) with identity_db by hand (foreign key feeds_user_id_fkey was dropped; informational)',
    );
  });
});
