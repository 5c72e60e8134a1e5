import { describe, expect, it } from 'vitest';
import { isConnectionLoss } from '../../../src/pg/connection-loss.js';

describe('isConnectionLoss', () => {
  it('knows every way node-postgres and the server report a lost connection, and no statement error', () => {
    expect(isConnectionLoss(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionLoss(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
    // A query sent on a client whose socket failed a moment before (a race with the server's shutdown).
    expect(isConnectionLoss(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
    expect(isConnectionLoss(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
    expect(isConnectionLoss(null)).toBe(false);
  });
});
