import { expect } from 'vitest';
import { corpusSuite, refused, scalar, verifyReports } from './helpers/real-corpus-suite.js';
import { query } from '../harness/servers.js';

/** test/fixtures/real/gitlab: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('gitlab', {
  async afterSplit(split, service) {
    const main = service('main');
    const ci = service('ci');
    // A row gone from a partition that lives in another schema than its table, then a partition dropped.
    await query(main, `DELETE FROM gitlab_partitions_static.namespace_descendants_00 WHERE namespace_id = (SELECT min(namespace_id) FROM gitlab_partitions_static.namespace_descendants_00)`);
    await verifyReports(split, /namespace_descendants/);
    await query(main, `ALTER TABLE namespace_descendants DETACH PARTITION gitlab_partitions_static.namespace_descendants_03; DROP TABLE gitlab_partitions_static.namespace_descendants_03`);
    await verifyReports(split, /namespace_descendants_03/);
    // The application's writes: ids from the sequences, the trigger that deletes a project's namespace.
    expect(await scalar(main, `INSERT INTO users (email, projects_limit, username) VALUES ('new@example.com', 5, 'new') RETURNING id`)).toBe('3');
    await query(main, `DELETE FROM projects WHERE id = 2`);
    expect(await scalar(main, `SELECT count(*) FROM namespaces WHERE id = 4`)).toBe('0');
    expect(await scalar(main, `SELECT (find_projects_by_id(1)).name`)).toBe('GitLab');
    expect(await scalar(ci, `INSERT INTO ci_freeze_periods (project_id, freeze_start, freeze_end, cron_timezone, created_at, updated_at) VALUES (1, '0 1 * * *', '0 2 * * *', 'UTC', now(), now()) RETURNING id`)).toBe('2');
    // What the source refuses, the target refuses.
    expect(await refused(main, `INSERT INTO namespaces (name, path) VALUES ('x', 'x')`)).toMatch(/check_2eae3bdf93/);
    expect(await refused(ci, `INSERT INTO ci_deleted_objects (store_dir, file) VALUES ('a', 'b')`)).toMatch(/check_98f90d6c53/);
  },
});
