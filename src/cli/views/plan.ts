import type { Plan, Step, TableSize } from '../../plan/model.js';
import type { Output } from '../output.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

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
    warnings: plan.warnings,
    errors: plan.errors,
  };
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
    lines.push(`${c.green('+')} ${c.bold(s.name)} ${c.dim('→')} database ${c.cyan(s.database)} on server ${s.server}${s.role ? `, owner ${s.role}` : ''}`);
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
    for (const fk of s.droppedForeignKeys) {
      lines.push(`    ${c.red('-')} foreign key ${fk.table}.${fk.constraint} (${fk.columns.join(', ')}) → ${fk.references} ${c.dim(`[${fk.reason}${fk.referencedService ? `, owned by ${fk.referencedService}` : ''}]`)}`);
      lines.push(`        ${c.dim(fk.suggestion)}`);
    }
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
