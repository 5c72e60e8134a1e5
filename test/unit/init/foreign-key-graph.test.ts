import { describe, expect, it } from 'vitest';
import { foreignKeyGraph } from '../../../src/init/foreign-key-graph.js';
import { indexCatalog } from '../../../src/manifest/catalog-index.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

describe('the foreign-key graph of init', () => {
  /** Builds partitioned by project: each partition declares the key to projects on its own (none on the parent). */
  const catalog = new CatalogBuilder(['public'])
    .table('projects', { columns: ['id', 'name:text'] })
    .table('logs', { columns: ['id', 'build_id'] })
    .table('builds', { columns: ['id', 'project_id'], partitioned: true, pk: [] })
    .table({ schema: 'dynamic', name: 'builds_1' }, { columns: ['id', 'project_id'], partitionOf: 'builds', pk: [], fks: [{ name: 'fk_1', columns: ['project_id'], references: 'projects' }] })
    .table('builds_2', { columns: ['id', 'project_id'], partitionOf: 'builds', pk: [], fks: [{ name: 'fk_2', columns: ['project_id'], references: 'projects' }] })
    .table({ schema: 'dynamic', name: 'builds_3' }, { columns: ['id', 'project_id'], partitionOf: 'builds', pk: [], fks: [{ name: 'fk_3', columns: ['project_id'], references: 'projects' }] })
    // A key to each partition of builds, as PostgreSQL adds them below a key to a partitioned table.
    .table('build_logs', {
      columns: ['id', 'build_id'],
      fks: [
        { name: 'fk_build', columns: ['build_id'], references: 'builds' },
        { name: 'fk_build1', columns: ['build_id'], references: 'dynamic.builds_1', inherited: true },
        { name: 'fk_build2', columns: ['build_id'], references: 'builds_2', inherited: true },
      ],
    })
    .build();
  const index = indexCatalog(catalog, ['public']);
  const graph = foreignKeyGraph(catalog, index, index.listable.map((t) => `${t.schema}.${t.name}`));

  it('counts a key that every partition declares once, partitions in other schemas included', () => {
    expect(graph.edges.map((e) => `${e.from} -> ${e.to} (${e.columns.join(', ')})`).sort()).toEqual([
      'public.build_logs -> public.builds (build_id)',
      'public.builds -> public.projects (project_id)',
    ]);
    expect([...graph.neighbours.get('public.builds')!].sort()).toEqual(['public.build_logs', 'public.projects']);
  });
});
