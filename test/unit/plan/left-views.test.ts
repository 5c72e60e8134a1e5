import { describe, expect, it } from 'vitest';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = `version: 1
name: views
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
ignore: [audit, both, build_audit]
`;

const catalog = new CatalogBuilder(['public'])
  .table('builds', { columns: ['id'] })
  .table('projects', { columns: ['id'] })
  .table('audit', { columns: ['id'] })
  .view('both', ['public.builds', 'public.projects'])
  .view('build_audit', ['public.builds', 'public.audit'])
  .view('audit_only', ['public.audit'])
  .build();

describe('a view left in the source', () => {
  const plan = planFrom(MANIFEST, catalog);
  const about = (view: string) => plan.warnings.filter((w) => w.includes(view));

  it('over tables that moved gets one warning, the one that names them, and the reason it stayed', () => {
    expect(about('public.both')).toEqual([expect.stringMatching(/^view public\.both, left in the source, reads public\.builds \(ci\), public\.projects \(web\): from the fence on it shows their backup/)]);
    expect(about('public.build_audit')).toEqual([expect.stringMatching(/^view public\.build_audit, left in the source, reads public\.builds \(ci\):/)]);
    const reason = Object.fromEntries((plan.leftBehind ?? []).filter((l) => l.kind === 'view').map((l) => [l.name, l.reason]));
    expect(reason).toEqual({
      'public.both': 'ignored: it reads tables of ci and web',
      'public.build_audit': 'ignored, or also reads tables that stay in the source',
      'public.audit_only': 'ignored, or reads only tables and views that stay in the source',
    });
  });

  it('over tables that stay gets the general warning only', () => {
    expect(about('public.audit_only')).toEqual([expect.stringMatching(/^view left in the source, in no service's database: public\.audit_only \(ignored, or reading only tables that stay there\)/)]);
  });
});
