import { expect } from 'vitest';
import { corpusSuite, refused, scalar, verifyReports } from './helpers/real-corpus-suite.js';
import { query } from '../harness/servers.js';

/** test/fixtures/real/openstreetmap: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('openstreetmap', {
  from15to18: true,
  async afterSplit(split, service) {
    const map = service('map');
    const accounts = service('accounts');
    const notes = service('notes');
    const moderation = service('moderation');
    const traces = service('traces');
    // The API's rate-limit functions read tables of accounts and moderation: the plan says so,
    // and what it says is what happens when they run in the map's database.
    const warnings = (await split.readPlan()).warnings.filter((w) => /api_(rate|size)_limit/.test(w));
    expect(warnings).toHaveLength(2);
    for (const w of warnings) {
      expect(w).toContain('public.issues, public.reports (owned by moderation), public.user_blocks, public.user_roles (owned by accounts)');
      expect(w).toContain('fails with "relation does not exist"');
    }
    expect(await refused(map, `SELECT api_rate_limit(1)`)).toMatch(/relation "user_roles" does not exist/);
    // The map's own writes: ids from the synced sequences, the gist index over integers (btree_gist) in use.
    expect(await scalar(map, `INSERT INTO changesets (user_id, created_at, closed_at) VALUES (1, now(), now()) RETURNING id`)).toBe('4');
    expect(await scalar(map, `SELECT extname FROM pg_extension WHERE extname = 'btree_gist'`)).toBe('btree_gist');
    expect(await scalar(map, `SET enable_seqscan = off; SELECT count(*) FROM changesets WHERE min_lat <= 515050000 AND max_lat >= 515050000`)).toBe('1');
    // The foreign key to users (accounts) was dropped as planned; the ones inside map hold.
    expect(await scalar(map, `INSERT INTO changesets (user_id, created_at, closed_at) VALUES (999, now(), now()) RETURNING user_id`)).toBe('999');
    expect(await refused(map, `INSERT INTO current_node_tags (node_id, k, v) VALUES (99, 'a', 'b')`)).toMatch(/current_node_tags_id_fkey|foreign key/);
    // Full-text search over the notes, through the expression index's configuration.
    expect(await scalar(notes, `SELECT string_agg(id::text, ',') FROM notes WHERE to_tsvector('english', description) @@ to_tsquery('english', 'bridges')`)).toBe('1');
    expect(await refused(notes, `INSERT INTO notes (latitude, longitude, tile, updated_at, created_at, status) VALUES (0, 0, 0, now(), now(), 'lost')`)).toMatch(/note_status_enum/);
    expect(await refused(moderation, `INSERT INTO reports (issue_id, user_id, details, category, created_at, updated_at) VALUES (42, 1, 'x', 'spam', now(), now())`)).toMatch(/foreign key/);
    expect(await scalar(accounts, `SELECT display_name FROM users WHERE creation_address <<= '192.0.2.0/24'`)).toBe('alice');
    // A row gone from the table without a key (gps_points) is found by verify.
    await query(traces, `DELETE FROM gps_points WHERE altitude IS NULL`);
    await verifyReports(split, /gps_points/);
  },
});
