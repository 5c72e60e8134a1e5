import type { Plan } from '../../plan/model.js';
import { describeMoved, type MovedTable } from '../../waves/moved-table.js';
import { mdCell, mdCode, mdCodeCell, mdTable } from './markdown.js';

/** The moved tables of one earlier split that share a description (service, date, state). */
export interface MovedGroup {
  split: string;
  description: string;
  tables: string[];
}

/** `movedEarlier` grouped by split and by what is said of them, in the plan's order. Pure. */
export function movedGroups(moved: readonly MovedTable[]): MovedGroup[] {
  const groups = new Map<string, MovedGroup>();
  for (const m of moved) {
    const description = describeMoved(m);
    const key = `${m.split}\u0000${description}`;
    const g = groups.get(key) ?? { split: m.split, description, tables: [] };
    g.tables.push(m.table);
    groups.set(key, g);
  }
  return [...groups.values()];
}

/** Why the remaining foreign keys stay, as the views say it. */
export const REMAINING_NOTE =
  'kept in the source, checked against the fenced backup: a row referencing a row created in the new database since is refused there; pruning the backup drops them by name';

/** The text view's lines for earlier waves and the remaining foreign keys (no colors: the caller adds them). */
export function wavesLines(plan: Plan): { moved: string[]; remaining: string[] } {
  const moved: string[] = [];
  for (const g of movedGroups(plan.movedEarlier ?? [])) {
    moved.push(`    ${g.tables.length} table${g.tables.length === 1 ? '' : 's'} ${g.description}:`);
    for (const t of g.tables) moved.push(`        ${t}`);
  }
  const remaining = (plan.remainingForeignKeys ?? []).map(
    (fk) => `    ${fk.table}.${fk.constraint} (${fk.columns.join(', ')}) → ${fk.references} [${fk.referencedService}${fk.movedBy ? `; ${fk.table} is split ${fk.movedBy}'s backup` : ''}]`,
  );
  return { moved, remaining };
}

/** The Markdown view's sections for earlier waves and the remaining foreign keys. */
export function wavesMarkdown(plan: Plan): string[] {
  const out: string[] = [];
  const groups = movedGroups(plan.movedEarlier ?? []);
  if (groups.length > 0) {
    out.push('', '#### Moved by earlier splits (left alone)', '');
    out.push(mdTable(['tables', 'moved'], groups.map((g) => [g.tables.map(mdCode).join(', '), mdCell(g.description)])));
  }
  const fks = plan.remainingForeignKeys ?? [];
  if (fks.length > 0) {
    out.push('', '#### Foreign keys to the moved tables that stay in the source', '', mdCell(REMAINING_NOTE), '');
    out.push(
      mdTable(
        ['key', 'references', 'service'],
        fks.map((fk) => [mdCodeCell(`${fk.table}.${fk.constraint} (${fk.columns.join(', ')})`), mdCodeCell(fk.references), mdCell(fk.referencedService)]),
      ),
    );
  }
  return out;
}
