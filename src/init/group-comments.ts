import type { ProposedDroppedKey, ProposedService } from './propose-split.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `a`, `a and b`, `a, b and c`. */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Why the service's tables were put together: the comment lines above it in the manifest. */
export function groupComments(s: ProposedService): string[] {
  const g = s.group;
  const n = g.tables.length;
  const prefix = g.prefix === null ? '' : `; prefix ${g.prefix}_`;
  const lines: string[] = [];
  switch (g.reason) {
    case 'hub':
      lines.push(`${plural(n, 'table')} joined by foreign keys around ${s.center}${prefix}`);
      break;
    case 'component':
      lines.push(`${plural(n, 'table')} joined by foreign keys${s.center ? `, most referenced: ${s.center}` : ''}${prefix}`);
      break;
    case 'prefix':
      lines.push(`${plural(n, 'table')} without foreign keys sharing the prefix ${g.prefix ?? ''}_`);
      break;
    case 'rest':
      lines.push(
        `${plural(n, 'table')} without foreign keys or a name in common with another group:`,
        'move each to the service that uses it, or to ignore',
      );
      break;
  }
  if (s.absorbed.length > 0) lines.push(`also ${joinList(s.absorbed)}: no other service's tables reference them`);
  if (s.byPrefix.length > 0) lines.push(`${joinList(s.byPrefix)}: no foreign keys; joined by name`);
  if (s.views.length > 0) lines.push(`${s.views.length === 1 ? 'view' : 'views'} moving with it: ${joinList(s.views)}`);
  return lines;
}

/** `devices.user_id -> users (user-service)`. */
export function droppedKeyText(k: ProposedDroppedKey): string {
  const cols = k.columns.length === 1 ? k.columns[0]! : `(${k.columns.join(', ')})`;
  return `${k.table}.${cols} -> ${k.references} (${k.where})`;
}

/** The comment lines under the service: every foreign key the split drops. */
export function droppedKeyComments(s: ProposedService): string[] {
  return s.droppedForeignKeys.map((k) => `drops fk ${droppedKeyText(k)}`);
}
