import { expect } from 'vitest';
import { corpusSuite, refused, scalar, verifyReports } from './helpers/real-corpus-suite.js';
import { query } from '../harness/servers.js';

/** test/fixtures/real/services-core: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('services-core', {
  async afterSplit(split, service) {
    const platform = service('platform');
    const community = service('community');
    await query(community, `DELETE FROM community_service.users WHERE id = 2`);
    await verifyReports(split, /community_service\.users/);
    // The privileges granted to the application's roles hold in the new database.
    expect(await scalar(platform, `SET ROLE platform_user; SELECT count(*) FROM platform_service.platforms`)).toBe('2');
    expect(await refused(platform, `SET ROLE anonymous; SELECT count(*) FROM platform_service.platforms`)).toMatch(/permission denied/);
    // The API view and the core functions it calls came along.
    expect(await scalar(platform, `SELECT count(*) FROM platform_service_api.api_keys`)).toBe('0');
    expect(await refused(community, `INSERT INTO community_service.users (platform_id, email, password, name) VALUES (1, 'not-an-email', 'p', 'n')`)).toMatch(/users_email_check/);
  },
});
