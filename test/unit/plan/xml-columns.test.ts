import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../src/catalog/model.js';
import type { CopyBackStep, CopyDataStep, Plan } from '../../../src/plan/model.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = (extra: string) => `version: 1
name: docs
${extra}
source: { url: "\${SRC}" }
services:
  docs:
    database: docs_db
    tables: [documents, plain]
`;

/** documents: an xml column, a domain over xml, an array of xml; plain: none. */
function catalog(): Catalog {
  const c = new CatalogBuilder(['public'])
    .table('documents', { columns: ['id', 'body:xml', 'drawing:public.diagram', 'parts:xml[]'] })
    .table('plain', { columns: ['id', 'name:text'] })
    .build();
  const cols = c.tables.find((t) => t.name === 'documents')!.columns;
  cols.find((x) => x.name === 'body')!.typeFlags = ['nohash', 'xml'];
  cols.find((x) => x.name === 'drawing')!.typeFlags = ['domain', 'nohash', 'xml'];
  cols.find((x) => x.name === 'parts')!.typeFlags = ['array', 'nohash', 'xml'];
  return c;
}

const copyOf = (p: Plan, table: string) => p.steps.find((s): s is CopyDataStep => s.kind === 'copy_data' && s.table === table)!;

/** PostgreSQL's xml output (COPY's, logical replication's) drops a leading `<?xml version="1.0"?>`: every path reads xml as text. */
describe('xml columns in a plan', () => {
  it('are copied as their stored text, in text format; other tables keep the binary COPY', () => {
    const p = planFrom(MANIFEST(''), catalog());
    const docs = copyOf(p, 'public.documents');
    expect(docs.copyOut).toBe('COPY (SELECT s."id", s."body"::text, s."drawing"::text, s."parts"::text[] FROM ONLY "public"."documents" AS s) TO STDOUT (FORMAT text)');
    expect(docs.binary).toBe(false);
    expect(copyOf(p, 'public.plain')).toMatchObject({ binary: true, copyOut: 'COPY "public"."plain" ("id", "name") TO STDOUT (FORMAT binary)' });
  });

  it('online: are copied at cutover by this tool, not by logical replication, and copied back as text by rollback', () => {
    const p = planFrom(MANIFEST('mode: online'), catalog());
    expect(p.warnings.join('\n')).toContain('public.documents has xml columns body, drawing, parts, which logical replication sends through PostgreSQL\'s xml output');
    const docs = copyOf(p, 'public.documents');
    expect(docs.phase).toBe('cutover');
    expect(docs.copyOut).toContain('s."body"::text');
    expect(p.steps.some((s) => s.kind === 'copy_data' && s.table === 'public.plain')).toBe(false);
    const back = p.steps.find((s): s is CopyBackStep => s.kind === 'copy_back')!;
    expect(back.leaves).toEqual([{ table: 'public.documents', columns: ['id', 'body', 'drawing', 'parts'], readAs: { body: '"body"::text', drawing: '"drawing"::text', parts: '"parts"::text[]' } }]);
    expect(back.sql.join('\n')).toContain('COPY (SELECT "id", "body"::text, "drawing"::text, "parts"::text[] FROM ONLY "public"."documents") TO STDOUT');
  });

  it('copy: server: are copied by the relay, with the reason', () => {
    const p = planFrom(MANIFEST('copy: server'), catalog());
    expect(p.warnings.join('\n')).toContain('docs: copy: server: public.documents is copied through this tool instead (relay): table synchronisation sends its xml columns body, drawing, parts through PostgreSQL\'s xml output');
    expect(p.steps.some((s) => s.kind === 'copy_data' && s.table === 'public.documents')).toBe(true);
    expect(p.steps.some((s) => s.kind === 'copy_data' && s.table === 'public.plain')).toBe(false);
  });
});
