import type { Plan, RepointConfigStep } from '../../plan/model.js';
import { formatBytes } from '../../format/byte-size.js';
import { mdBlock, mdCell, mdCode, mdCodeCell, mdTable } from './markdown.js';
import { wavesMarkdown } from './plan-waves.js';

/**
 * `plan --format markdown`: a compact report for a pull-request comment, like a
 * `terraform plan` posted by CI. Services and their tables, the foreign keys that go,
 * the config diffs, then warnings and errors (errors first: they block the apply).
 * Pure: the same plan gives the same text.
 */
export function planMarkdown(plan: Plan): string {
  const out: string[] = [];
  const tables = plan.services.reduce((a, s) => a + s.tables.length + s.copies.length, 0);
  const dropped = plan.services.reduce((a, s) => a + s.droppedForeignKeys.length, 0);
  const verdict = plan.errors.length > 0 ? `**${plan.errors.length} error${plan.errors.length === 1 ? '' : 's'}: apply would refuse this plan.**` : 'Ready to apply.';
  out.push(`### cloudphone-split plan: ${mdCode(plan.name)} (${plan.mode})`);
  out.push('');
  out.push(
    `From ${mdCode(plan.source.database)} (PostgreSQL ${mdCell(plan.source.serverVersion)}): ${plan.services.length} database${plan.services.length === 1 ? '' : 's'} to create, ${tables} table${tables === 1 ? '' : 's'} to copy, ${dropped} foreign key${dropped === 1 ? '' : 's'} to drop, ${plan.steps.length} steps. ${verdict}`,
  );
  if (plan.errors.length > 0) {
    out.push('');
    out.push('#### Errors');
    for (const e of plan.errors) out.push(`- ${mdCell(e)}`);
  }
  out.push('');
  out.push(
    mdTable(
      ['service', 'database', 'server', 'owner', 'tables', 'rows (est.)', 'size (moved)'],
      plan.services.map((s) => [
        mdCell(s.name),
        mdCodeCell(s.database),
        mdCell(s.server),
        s.role ? mdCodeCell(s.role) : '',
        s.copies.length > 0 ? `${s.tables.length} + ${s.copies.length} copied` : String(s.tables.length),
        String(s.tables.reduce((a, t) => a + t.rowsEstimate, 0)),
        formatBytes(s.tables.reduce((a, t) => a + t.bytes, 0)),
      ]),
    ),
  );
  for (const s of plan.services) {
    const items = [
      ...s.tables.map((t) => `${mdCode(t.name)} (~${t.rowsEstimate} rows, ${formatBytes(t.bytes)})`),
      ...s.copies.map((t) => `${mdCode(t.name)} (read-only copy)`),
      ...s.views.map((v) => `view ${mdCode(v)}`),
      ...s.denormalize.map((d) => `new column ${mdCode(`${d.table}.${d.column}`)} ${mdCell(d.type)} filled from ${mdCode(d.from)}`),
    ];
    out.push('');
    out.push(`<details><summary><b>${mdCell(s.name)}</b>: ${s.tables.length} moved, ${s.copies.length} copied, ${s.droppedForeignKeys.length} foreign keys dropped</summary>`);
    out.push('');
    for (const i of items) out.push(`- ${i}`);
    out.push('');
    out.push('</details>');
  }
  const fks = plan.services.flatMap((s) => s.droppedForeignKeys.map((fk) => ({ s, fk })));
  if (fks.length > 0) {
    out.push('');
    out.push('#### Foreign keys dropped');
    out.push('');
    out.push(
      mdTable(
        ['service', 'key', 'references', 'why', 'instead'],
        fks.map(({ s, fk }) => [
          mdCell(s.name),
          mdCodeCell(`${fk.table}.${fk.constraint} (${fk.columns.join(', ')})`),
          mdCodeCell(fk.references),
          `${fk.reason}${fk.referencedService ? `, owned by ${mdCell(fk.referencedService)}` : ''}`,
          mdCell(fk.suggestion),
        ]),
      ),
    );
  }
  out.push(...wavesMarkdown(plan));
  const edits = plan.steps.filter((st): st is RepointConfigStep => st.kind === 'repoint_config').flatMap((st) => st.edits.map((e) => ({ st, e })));
  if (edits.length > 0) {
    out.push('');
    out.push('#### Config changes');
    for (const { st, e } of edits) {
      out.push('');
      out.push(`${mdCode(e.file)}: ${mdCell(e.entry)}${st.service ? ` (${mdCell(st.service)})` : ''}`);
      out.push('');
      out.push(mdBlock(e.diff, 'diff'));
    }
  }
  if (plan.warnings.length > 0) {
    out.push('');
    out.push('#### Warnings');
    for (const w of plan.warnings) out.push(`- ${mdCell(w)}`);
  }
  out.push('');
  return out.join('\n');
}
