import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import type { PlanInput } from '../../../src/plan/input.js';
import type { ConfigEdit, Plan } from '../../../src/plan/model.js';
import type { RollbackInventory } from '../../../src/rollback/rollback-inventory.js';
import { serviceScope } from '../../../src/rollback/service-scope.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

const MANIFEST = `version: 1
name: parts
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
    copies: [builds]
  docs:
    database: docs_db
    tables: [pages]
`;

const edit = (file: string, beforeHash: string): ConfigEdit => ({
  file,
  entry: 'DB=',
  beforeHash,
  afterHash: `${beforeHash}+`,
  diff: '',
  spec: { file, key: 'DB', value: '{database}' } as ConfigEdit['spec'],
});

function plan(configEdits: PlanInput['configEdits']): Plan {
  const manifest = parseManifest(MANIFEST, 'split.yaml');
  const cat = new CatalogBuilder(['public']).table('builds', { columns: ['id'] }).table('projects', { columns: ['id'] }).table('pages', { columns: ['id'] }).build();
  const resolved = resolveManifest(manifest, cat, 'split.yaml');
  return buildPlan({
    manifest,
    manifestText: MANIFEST,
    manifestPath: 'split.yaml',
    catalog: cat,
    services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: [] })),
    ignored: [],
    warnings: [],
    configEdits,
  });
}

function inventory(p: Plan, over: Partial<RollbackInventory> = {}): RollbackInventory {
  return {
    split: p.name,
    plan: p,
    databases: p.services.map((s) => ({ kind: 'database', server: 'source', name: s.database })),
    adopted: [],
    roles: [],
    fence: { kind: 'fence', server: 'source', name: p.source.database, detail: { tables: ['public.builds', 'public.projects', 'public.pages'] } },
    config: [
      { kind: 'config', server: 'source', name: 'shared.hcl#h0', detail: { file: 'shared.hcl', beforeHash: 'h0', afterHash: 'h1', hunks: [] } },
      { kind: 'config', server: 'source', name: 'shared.hcl#h1', detail: { file: 'shared.hcl', beforeHash: 'h1', afterHash: 'h2', hunks: [] } },
    ],
    configBackups: [],
    retention: undefined,
    prior: null,
    tableMarks: null,
    other: [],
    repointed: true,
    baselines: [],
    targets: [],
    restarts: [],
    ...over,
  };
}

describe('rollback --service: what belongs to the services, and when only them cannot be rolled back', () => {
  const p = plan({ ci: [edit('shared.hcl', 'h0')], docs: [edit('shared.hcl', 'h1')] });
  const all = new Set(p.steps.map((s) => s.id));

  it('takes only their database, fenced tables, config backup and steps', () => {
    const scope = serviceScope(p, inventory(p), ['docs'], all);
    expect(scope.refusals).toEqual([]);
    expect(scope.databases.map((d) => d.name)).toEqual(['docs_db']);
    expect(scope.fenceTables).toEqual(['public.pages']);
    expect(scope.otherFenceTables).toEqual(['public.builds', 'public.projects']);
    expect(scope.config.map((c) => c.name)).toEqual(['shared.hcl#h1']);
    expect(scope.stepIds.length).toBeGreaterThan(5);
    expect(scope.stepIds.every((id) => p.steps.find((s) => s.id === id)!.service === 'docs')).toBe(true);
  });

  it('refuses a service whose table another applied service copied, and one whose shared file a later service repointed', () => {
    const scope = serviceScope(p, inventory(p), ['ci'], all);
    expect(scope.refusals).toEqual([
      'web (applied) copied public.builds from them: roll it back too (--service ci,web) or keep them',
      'docs (applied) repointed shared.hcl after them: roll it back too (--service ci,docs)',
    ]);
    // Not applied, they do not stand in the way.
    const ciOnly = new Set(p.steps.filter((s) => s.service === 'ci' || s.service === undefined).map((s) => s.id));
    expect(serviceScope(p, inventory(p), ['ci'], ciOnly).refusals).toEqual([]);
    expect(serviceScope(p, inventory(p), ['ci', 'web', 'docs'], all).refusals).toEqual([]);
  });

  it('refuses once the old database was retired as a whole', () => {
    const scope = serviceScope(p, inventory(p, { prior: { acl: null, comment: null, readOnly: null, written: null } }), ['docs'], all);
    expect(scope.refusals.join('\n')).toMatch(/only the whole split can be rolled back/);
  });
});
