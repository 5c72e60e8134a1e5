import { droppedKeyText } from './group-comments.js';
import type { SplitProposal } from './propose-split.js';

/** How many names a summary line shows before "and N more". */
const SHOWN = 6;

function names(list: readonly string[]): string {
  if (list.length <= SHOWN) return list.join(', ');
  return `${list.slice(0, SHOWN).join(', ')} and ${list.length - SHOWN} more`;
}

/** The human summary of a proposal: one line per service and one for ignore. */
export function proposalSummary(p: SplitProposal): string[] {
  const tables = p.services.reduce((n, s) => n + s.tables.length, 0) + p.ignore.filter((i) => i.kind === 'table').length;
  const width = Math.max(6, ...p.services.map((s) => s.name.length));
  const lines = [`Proposed ${p.services.length} service${p.services.length === 1 ? '' : 's'} for ${p.database} (${tables} tables in ${p.schemas.join(', ')}):`];
  for (const s of p.services) {
    const count = `${s.tables.length} table${s.tables.length === 1 ? '' : 's'}`;
    lines.push(`  ${s.name.padEnd(width)}  ${count.padStart(10)}  ${names(s.tables)}`);
  }
  if (p.ignore.length > 0) {
    const count = `${p.ignore.length} ${p.ignore.length === 1 ? 'entry' : 'entries'}`;
    lines.push(`  ${'ignore'.padEnd(width)}  ${count.padStart(10)}  ${names(p.ignore.map((i) => i.name))}`);
  }
  const drops = p.services.flatMap((s) => s.droppedForeignKeys);
  if (drops.length > 0) {
    lines.push(`${drops.length} foreign key${drops.length === 1 ? '' : 's'} would cross services and be dropped (listed under each service in the manifest).`);
  }
  return lines;
}

/** `init --json`: the proposed grouping (stable field names; fields may be added). */
export function proposalJson(p: SplitProposal, file: string | null, manifest: string): unknown {
  return {
    file,
    name: p.name,
    database: p.database,
    schemas: p.schemas,
    sourceVariable: p.sourceVariable,
    services: p.services.map((s) => ({
      name: s.name,
      database: s.database,
      reason: s.group.reason,
      center: s.center,
      prefix: s.group.prefix,
      tables: s.tables,
      views: s.views,
      absorbed: s.absorbed,
      byPrefix: s.byPrefix,
      droppedForeignKeys: s.droppedForeignKeys.map((k) => ({
        table: k.table,
        columns: k.columns,
        references: k.references,
        service: k.service,
        text: droppedKeyText(k),
      })),
    })),
    ignore: p.ignore,
    manifest,
  };
}
