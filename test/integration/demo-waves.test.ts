import { describe, expect, it } from 'vitest';
import { assertBuilt, runSpawned } from './helpers/cli.js';

/**
 * `demo --waves` as a user runs it (the built CLI): the sample split in the three waves
 * of plans/waves/ on its own embedded PostgreSQL, while a writer keeps writing to the
 * tables not yet moved, exit 0 only when every wave verified and no write failed.
 */
describe('demo --waves', () => {
  it('moves billing, then devices and apps, then the rest, each wave recognising the earlier ones, with no failed write', async () => {
    assertBuilt();
    const r = await runSpawned(['demo', '--waves', '--scale', '0.1'], { ...process.env, NO_COLOR: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/9 tables moved by split wave-1-billing on \d{4}-\d\d-\d\d \(billing-service, database cloudphone_billing\): left alone/);
    expect(r.stdout).toMatch(/✔ wave 1 \(wave-1-billing\): 9 tables moved into cloudphone_billing; verified/);
    expect(r.stdout).toMatch(/✔ wave 2 \(wave-2-devices\): 6 tables moved into cloudphone_device, cloudphone_app, \d+ tables of earlier waves recognised and left alone; verified/);
    expect(r.stdout).toMatch(/✔ wave 3 \(wave-3-rest\): 15 tables moved into cloudphone_auth, cloudphone_user, cloudphone_notification, \d+ tables of earlier waves recognised and left alone; verified; source retired/);
    expect(r.stdout).toMatch(/✔ the writer made [1-9]\d* writes to the tables not yet moved, with 0 errors/);
    expect(r.stdout.match(/verify: all \d+ checks passed/g)).toHaveLength(3);
  });
});
