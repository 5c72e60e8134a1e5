import { describe, expect, it } from 'vitest';
import type { ScheduleRetentionStep } from '../../../src/plan/model.js';
import { planSchema } from '../../../src/plan/plan-schema.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = (retire: string) => `version: 1
name: wave
source: { url: "\${SRC}"${retire} }
services:
  ci:
    database: ci_db
    role: { name: ci_svc, password: "\${CI_PW}" }
    tables: [builds]
ignore: [projects]
`;

function retentionStep(retire: string): ScheduleRetentionStep {
  const catalog = new CatalogBuilder(['public'])
    .table('builds', { columns: ['id', 'project_id'], partitioned: true, pk: [] })
    .table({ schema: 'public', name: 'builds_1' }, { columns: ['id', 'project_id'], partitionOf: 'builds', pk: [] })
    .table('projects', { columns: ['id', 'name:text'] })
    .build();
  const plan = planFrom(MANIFEST(retire), catalog);
  const step = plan.steps.find((s): s is ScheduleRetentionStep => s.kind === 'schedule_retention');
  if (!step) throw new Error('no schedule_retention step');
  return step;
}

describe('schedule_retention in the plan', () => {
  it('without source.retire: comments the moved tables (partitions included) and does not touch the database', () => {
    const step = retentionStep('');
    expect(step).toMatchObject({ retire: false, roles: [], tables: ['public.builds', 'public.builds_1'] });
    expect(step.sql).toEqual([
      `COMMENT ON TABLE "public"."builds" IS 'cloudphone-split: moved by split wave, kept here as a fenced backup; expires <now + retention.days>; drop with "cloudphone-split retention prune --yes" after that'`,
      `COMMENT ON TABLE "public"."builds_1" IS 'cloudphone-split: moved by split wave, kept here as a fenced backup; expires <now + retention.days>; drop with "cloudphone-split retention prune --yes" after that'`,
    ]);
    expect(step.sql.join('\n')).not.toMatch(/DATABASE/);
    expect(step.description).toContain('the rest of');
  });

  it('with source.retire: true: the database becomes read-only, CONNECT revoked, as before', () => {
    const step = retentionStep(', retire: true');
    expect(step).toMatchObject({ retire: true, roles: ['ci_svc'] });
    expect(step.sql[0]).toMatch(/^ALTER DATABASE .* SET default_transaction_read_only = on$/);
    expect(step.sql[1]).toMatch(/^REVOKE CONNECT, TEMPORARY ON DATABASE .* FROM PUBLIC, "ci_svc"$/);
  });

  it('reads a plan file written before retire existed as retiring the whole database', () => {
    const step = retentionStep(', retire: true');
    const { retire: _r, tables: _t, ...old } = step;
    const parsed = planSchema.shape.steps.element.parse(old) as ScheduleRetentionStep;
    expect(parsed).toMatchObject({ retire: true, tables: [] });
  });
});
