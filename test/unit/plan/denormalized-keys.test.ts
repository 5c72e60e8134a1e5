import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

const MANIFEST = `version: 1
name: batches
source: { url: "\${SRC}" }
services:
  batch-service:
    database: batch_db
    tables: [batch_changes]
  user-service:
    database: user_db
    tables: [users]
`;

describe('the foreign keys a denormalized column replaces', () => {
  it('are only those joined through its own columns (Sourcegraph\'s batch_changes: creator, applier and namespace keys to users)', () => {
    const catalog = new CatalogBuilder()
      .table('users', { columns: ['id', 'username:text'] })
      .table('batch_changes', {
        columns: ['id', 'creator_id', 'last_applier_id', 'namespace_user_id'],
        fks: [
          { columns: ['creator_id'], references: 'users' },
          { columns: ['last_applier_id'], references: 'users' },
          { columns: ['namespace_user_id'], references: 'users' },
        ],
      })
      .build();
    const manifest = parseManifest(MANIFEST, 'split.yaml');
    const resolved = resolveManifest(manifest, catalog, 'split.yaml');
    const fill = (column: string, local: string) => ({ table: 'public.batch_changes', column, fromTable: 'public.users', fromColumn: 'username', type: 'text', on: [{ local, remote: 'id' }] });
    const plan = buildPlan({
      manifest,
      manifestText: MANIFEST,
      manifestPath: 'split.yaml',
      catalog,
      services: resolved.services.map((s) => ({
        spec: s.spec,
        tables: s.tables,
        copies: s.copies,
        views: s.views,
        denormalize: s.spec.name === 'batch-service' ? [fill('creator_name', 'creator_id'), fill('applier_name', 'last_applier_id')] : [],
      })),
      ignored: [],
      warnings: [],
      configEdits: {},
    });
    const dropped = plan.services.find((s) => s.name === 'batch-service')!.droppedForeignKeys;
    expect(dropped.map((d) => [d.columns.join(','), d.denormalizedBy])).toEqual([
      ['creator_id', ['public.batch_changes.creator_name']],
      ['last_applier_id', ['public.batch_changes.applier_name']],
      ['namespace_user_id', ['users.username']],
    ]);
    expect(dropped[2]!.suggestion).toMatch(/^check namespace_user_id in the application, or denormalize: users\.username/);
  });
});
