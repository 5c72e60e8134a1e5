import type { Plan, Step, TableSize } from '../../plan/model.js';
import type { Output } from '../output.js';
import { maskLine } from '../../config/mask.js';

import { formatBytes } from '../../format/byte-size.js';
import { REMAINING_NOTE, wavesLines } from './plan-waves.js';

/** `plan --json`: the SPEC §2 shape (fields may be added, never renamed). */
export function planJson(plan: Plan): unknown {
  return {
    name: plan.name,
    mode: plan.mode,
    sourceFingerprint: plan.sourceFingerprint,
    services: plan.services.map((s) => ({
      name: s.name,
      database: s.database,
      server: s.server,
      role: s.role,
      tables: s.tables,
      copies: s.copies,
      views: s.views,
      objects: s.objects ?? [],
      droppedForeignKeys: s.droppedForeignKeys,
      denormalize: s.denormalize,
    })),
    steps: plan.steps.map((st: Step) => ({
      id: st.id,
      kind: st.kind,
      ...(st.service ? { service: st.service } : {}),
      ...(st.table ? { table: st.table } : {}),
      sql: st.sql,
      description: st.description,
      dependsOn: st.dependsOn,
    })),
    leftBehind: plan.leftBehind ?? [],
    movedEarlier: plan.movedEarlier ?? [],
    remainingForeignKeys: plan.remainingForeignKeys ?? [],
    warnings: plan.warnings,
    errors: plan.errors,
  };
}

function diffColor(c: Output['c'], line: string): string {
  if (line.startsWith('+') && !line.startsWith('+++')) return c.green(line);
  if (line.startsWith('-') && !line.startsWith('---')) return c.red(line);
  return c.dim(line);
}

/** The rows column: the estimate, or "not analyzed yet" where the statistics have no count (never "0 rows"). */
function rowsCell(t: TableSize): string {
  return t.analyzed === false ? 'not analyzed yet'.padStart(15) : `${String(t.rowsEstimate).padStart(10)} rows`;
}

/** Human rendering, like `terraform plan`: per service what is created, copied and dropped. */
export function renderPlan(plan: Plan, out: Output, opts: { sql?: boolean } = {}): void {
  const { c } = out;
  const lines: string[] = [];
  lines.push(c.bold(`cloudphone-split plan: ${plan.name} (${plan.mode}) from ${plan.source.database}, PostgreSQL ${plan.source.serverVersion}`));
  lines.push('');
  for (const s of plan.services) {
    const rows = s.tables.reduce((a, t) => a + t.rowsEstimate, 0);
    const bytes = s.tables.reduce((a, t) => a + t.bytes, 0);
    const unanalyzed = s.tables.filter((t) => t.analyzed === false).length;
    lines.push(`${c.green('+')} ${c.bold(s.name)} ${c.dim('→')} database ${c.cyan(s.database)} on server ${s.server}${s.role ? `, owner ${s.role}` : ''}${s.copy === 'server' ? ', copied by that server from the source (copy: server)' : ''}`);
    lines.push(`    ${s.tables.length} tables, ~${rows} rows${unanalyzed ? ` (${unanalyzed} not analyzed yet)` : ''}, ${formatBytes(bytes)}`);
    for (const t of s.tables) lines.push(`    ${c.green('+')} ${t.name.padEnd(40)} ${rowsCell(t)} ${formatBytes(t.bytes).padStart(9)}`);
    for (const t of s.copies) lines.push(`    ${c.blue('=')} ${t.name.padEnd(40)} ${rowsCell(t)} ${formatBytes(t.bytes).padStart(9)}  ${c.dim('read-only copy')}`);
    const objects = s.objects ?? [];
    const viewsListed = new Set(objects.filter((o) => o.kind === 'view').map((o) => o.name));
    for (const v of s.views) if (!viewsListed.has(v)) lines.push(`    ${c.green('+')} view ${v}`);
    for (const o of objects) {
      const copied = o.placement === 'copied' ? `  ${c.dim(`copied: also in ${(o.services ?? []).filter((x) => x !== s.name).join(', ')}`)}` : '';
      lines.push(`    ${o.placement === 'copied' ? c.blue('=') : c.green('+')} ${o.kind} ${o.name}${copied}`);
    }
    for (const d of s.denormalize) lines.push(`    ${c.green('+')} column ${d.table}.${d.column} ${d.type} ${c.dim(`filled from ${d.from} on ${d.on.join(', ')}`)}`);
    for (const st of plan.steps) {
      if (st.kind !== 'repoint_config' || st.service !== s.name) continue;
      for (const e of st.edits) {
        lines.push(`    ${c.yellow('~')} config ${e.file}: ${e.entry}${e.diff ? '' : c.dim(' (no change: it already points to the new database)')}`);
        if (e.diff) for (const l of e.diff.replace(/\n$/, '').split('\n')) lines.push(`        ${diffColor(c, maskLine(l))}`);
      }
    }
    for (const fk of s.droppedForeignKeys) {
      lines.push(`    ${c.red('-')} foreign key ${fk.table}.${fk.constraint} (${fk.columns.join(', ')}) → ${fk.references} ${c.dim(`[${fk.reason}${fk.referencedService ? `, owned by ${fk.referencedService}` : ''}]`)}`);
      lines.push(`        ${c.dim(fk.suggestion)}`);
    }
    lines.push('');
  }
  const waves = wavesLines(plan);
  if (waves.moved.length > 0) {
    lines.push(c.bold('Moved by earlier splits (left alone):'));
    lines.push(...waves.moved.map((l) => c.dim(l)));
    lines.push('');
  }
  if (waves.remaining.length > 0) {
    lines.push(c.bold(`Foreign keys to the moved tables that stay in the source (${waves.remaining.length}):`));
    lines.push(`    ${c.dim(REMAINING_NOTE)}`);
    lines.push(...waves.remaining);
    lines.push('');
  }
  const left = plan.leftBehind ?? [];
  if (left.length > 0) {
    lines.push(c.bold(`Left in the source (${left.length}):`));
    for (const o of left) lines.push(`    ${c.yellow('~')} ${o.kind} ${o.name}  ${c.dim(o.reason)}`);
    lines.push('');
  }
  lines.push(c.bold(`${plan.steps.length} steps:`));
  for (const [i, st] of plan.steps.entries()) {
    lines.push(`  ${String(i + 1).padStart(3)}. ${c.yellow(st.kind.padEnd(18))} ${st.description}`);
    if (opts.sql) for (const s of st.sql) lines.push(c.dim(`         ${s.replaceAll('\n', '\n         ')}`));
  }
  for (const w of plan.warnings) lines.push(`${c.yellow('warning:')} ${w}`);
  for (const e of plan.errors) lines.push(`${c.red('error:')} ${e}`);
  const dropped = plan.services.reduce((a, s) => a + s.droppedForeignKeys.length, 0);
  lines.push('');
  lines.push(
    `Plan: ${plan.services.length} databases to create, ${plan.services.reduce((a, s) => a + s.tables.length + s.copies.length, 0)} tables to copy, ${dropped} foreign keys to drop.`,
  );
  out.say(lines.join('\n'));
}
