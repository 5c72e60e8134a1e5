import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { CatalogBuilder } from './catalog-builder.js';
import { thrownProblems } from './helpers.js';

const manifest = (services: string, extra = ''): string =>
  `version: 1\nname: t\nsource: { url: u, schemas: [public, ops] }\nservices:\n${services}\n${extra}`;

/** A GitLab-like source: CI tables, main tables, a bookkeeping table and one table in a second schema. */
function catalog() {
  return new CatalogBuilder(['public', 'ops'])
    .table('ci_builds')
    .table('ci_pipelines')
    .table('ci_runner_taggings')
    .table('projects')
    .table('users')
    .table('schema_migrations', { columns: ['version'] })
    .table('ops.ci_audit')
    .build();
}

const resolve = (services: string, extra = '') => resolveManifest(parseManifest(manifest(services, extra), 'split.yaml'), catalog(), 'split.yaml');
const owned = (r: ReturnType<typeof resolve>, service: string) => r.services.find((s) => s.name === service)!.tables;

describe('which service owns a table matched by entries of several services', () => {
  it('a narrower glob beats a catch-all: ci takes the ci_ tables, main the rest', () => {
    const r = resolve('  main: { database: m, tables: ["*"] }\n  ci: { database: c, tables: ["ci_*"] }');
    expect(owned(r, 'ci')).toEqual(['ops.ci_audit', 'public.ci_builds', 'public.ci_pipelines', 'public.ci_runner_taggings']);
    expect(owned(r, 'main')).toEqual(['public.projects', 'public.schema_migrations', 'public.users']);
  });

  it('in whichever order the services are written', () => {
    const r = resolve('  ci: { database: c, tables: ["ci_*"] }\n  main: { database: m, tables: ["*"] }');
    expect(owned(r, 'ci')).toHaveLength(4);
    expect(owned(r, 'main')).toHaveLength(3);
  });

  it('an exact name beats any glob', () => {
    const r = resolve('  main: { database: m, tables: ["*", ci_runner_taggings] }\n  ci: { database: c, tables: ["ci_*"] }');
    expect(owned(r, 'main')).toContain('public.ci_runner_taggings');
    expect(owned(r, 'ci')).toEqual(['ops.ci_audit', 'public.ci_builds', 'public.ci_pipelines']);
  });

  it('a schema-qualified glob beats the catch-all it narrows', () => {
    const r = resolve('  main: { database: m, tables: ["*"] }\n  ops: { database: o, tables: ["ops.*"] }');
    expect(owned(r, 'ops')).toEqual(['ops.ci_audit']);
  });

  it('an exact name in ignore beats a service glob: "the rest" minus what is ignored', () => {
    const r = resolve('  main: { database: m, tables: ["*"] }\n  ci: { database: c, tables: ["ci_*"] }', 'ignore: [schema_migrations]');
    expect(owned(r, 'main')).toEqual(['public.projects', 'public.users']);
    expect(r.tables['public.schema_migrations']).toMatchObject({ fate: 'ignored', service: null });
  });

  it('two globs neither of which narrows the other: one problem per table, naming both entries and the way out', () => {
    const problems = thrownProblems(() =>
      resolve('  ci: { database: c, tables: ["ci_*"] }\n  main: { database: m, tables: ["*s"] }'),
    );
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['services.main.tables[0]', 'ci_builds is owned twice: by ci (services.ci.tables[0]) and by main'],
      ['services.main.tables[0]', 'ci_pipelines is owned twice: by ci (services.ci.tables[0]) and by main'],
      ['services.main.tables[0]', 'ci_runner_taggings is owned twice: by ci (services.ci.tables[0]) and by main'],
    ]);
    expect(problems[0]!.fix).toMatch(/name it exactly in the service that should own it \(an exact name beats a glob\), or narrow one of the globs/);
  });

  it('the same exact name in two services is still a conflict, whose fix is a copy', () => {
    const problems = thrownProblems(() => resolve('  main: { database: m, tables: ["*"] }\n  ci: { database: c, tables: ["ci_*", users] }\n  other: { database: o, tables: [users] }'));
    expect(problems.map((p) => p.message)).toEqual(['users is owned twice: by ci (services.ci.tables[1]) and by other']);
    expect(problems[0]!.fix).toMatch(/the other can list it under copies/);
  });

  it('an exact name in ignore that a service also names exactly is a contradiction', () => {
    const problems = thrownProblems(() => resolve('  main: { database: m, tables: ["*", users] }', 'ignore: [users]'));
    expect(problems.map((p) => p.message)).toEqual(['users is ignored but also owned by main (services.main.tables[1])']);
  });
});

describe('an ignore glob and the views', () => {
  const withViews = () =>
    new CatalogBuilder(['public', 'ops'])
      .table('posts')
      .table('reactions')
      .table('users')
      .table('systems')
      .view('post_count', ['public.posts'])
      .view('post_stats', ['public.post_count', 'public.reactions'])
      .view('post_authors', ['public.posts', 'public.users'])
      .view('post_settings', ['public.posts', 'public.systems'])
      .build();
  const run = (ignore: string) =>
    resolveManifest(
      parseManifest(manifest('  messaging: { database: m, tables: [posts, reactions] }\n  accounts: { database: a, tables: [users] }', `ignore: ${ignore}\n`), 'split.yaml'),
      withViews(),
      'split.yaml',
    );

  it('"the rest" (*) leaves a view every table of which one service owns to that service, through the views it reads', () => {
    const r = run('["*"]');
    expect(r.services.find((s) => s.name === 'messaging')!.views).toEqual(['public.post_count', 'public.post_stats']);
    // Over two services, or over a table that stays: the glob takes it.
    expect(r.services.find((s) => s.name === 'accounts')!.views).toEqual([]);
  });

  it('an exact name still ignores a view that would move, and the glob then takes the views that read it', () => {
    const r = run('["*", post_count]');
    expect(r.services.find((s) => s.name === 'messaging')!.views).toEqual([]);
  });
});
