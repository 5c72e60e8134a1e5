import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../src/catalog/model.js';
import type { Plan } from '../../../src/plan/model.js';
import { parsePlan, serializePlan } from '../../../src/plan/plan-file.js';
import { publicationProblems, type RoleFacts } from '../../../src/steps/preflight-privileges.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = `version: 1
name: pubs
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
`;

function plan(publications: NonNullable<Catalog['publications']>): Plan {
  const cat = new CatalogBuilder(['public']).table('builds', { columns: ['id'] }).table('projects', { columns: ['id'] }).build();
  cat.publications = publications;
  return planFrom(MANIFEST, cat);
}

const notSuperuser: RoleFacts = { version: 150000, superuser: false, createdb: true, createrole: true, bypassrls: false, user: 'admin' };

describe('publications only a superuser may create, as the plan names them for preflight', () => {
  const p = plan([
    { name: 'named', allTables: false, tables: ['public.builds'], members: [{ table: 'public.builds' }], schemas: [], publish: ['insert'], viaRoot: false },
    { name: 'everything', allTables: true, tables: ['public.builds', 'public.projects'], members: [], schemas: [], publish: ['insert', 'update'], viaRoot: false },
    { name: 'Whole "public"', allTables: false, tables: ['public.projects'], members: [], schemas: ['public'], publish: ['delete'], viaRoot: true },
  ]);

  it('names FOR ALL TABLES and FOR TABLES IN SCHEMA ones on the step that makes them, not a FOR TABLE one', () => {
    const byDb = Object.fromEntries(
      p.steps.flatMap((s) => (s.kind === 'create_indexes' && s.superuserPublications ? [[s.target.database, s.superuserPublications]] : [])),
    );
    expect(byDb).toEqual({
      ci_db: [{ name: 'everything', scope: 'FOR ALL TABLES' }],
      web_db: [
        { name: 'everything', scope: 'FOR ALL TABLES' },
        { name: 'Whole "public"', scope: 'FOR TABLES IN SCHEMA' },
      ],
    });
  });

  it('preflight refuses a role that is not superuser for each of them, and keeps them through the plan file', () => {
    const read = parsePlan(serializePlan(p), 'plan.json');
    const problems = publicationProblems(read, 'source', notSuperuser);
    expect(problems).toHaveLength(3);
    expect(problems[2]).toContain('publication Whole "public" of the source is made again in web_db (FOR TABLES IN SCHEMA), which only a superuser may create');
    expect(publicationProblems(read, 'source', { ...notSuperuser, superuser: true })).toEqual([]);
  });
});
