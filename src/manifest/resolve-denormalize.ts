import type { Column, Constraint, Table } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { CatalogIndex, Placement } from './catalog-index.js';
import { closest } from './closest.js';
import { matchEntry, matchParts } from './match-entry.js';
import type { DenormalizeSpec, ServiceSpec } from './model.js';
import { parseNameParts } from './names.js';
import { describeMoved, type MovedTable } from '../waves/moved-table.js';
import { joinPath, type ProblemList } from './problem-list.js';
import type { ResolvedDenormalize } from './resolve.js';

type Join = { pairs: ResolvedDenormalize['on']; fk: string | null };

const list = (cols: string[]): string => cols.join(', ');
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function foreignKeysTo(table: Table, target: string): Constraint[] {
  return table.constraints.filter(
    (c) => c.type === 'f' && !c.inherited && c.references && tableKey(c.references.table) === target,
  );
}

const fkJoin = (fk: Constraint, locals: string[]): Join => ({
  pairs: locals.map((local) => ({ local, referenced: fk.references!.columns[fk.columns.indexOf(local)]! })),
  fk: fk.name,
});

/** Shared context of one entry: where it is and how to name things in problems. */
interface Entry {
  d: DenormalizeSpec;
  path: string;
  index: CatalogIndex;
  problems: ProblemList;
}

/** The table that gets the column: it must exist and belong to the service. */
function targetTable(e: Entry, service: string, placementOf: (key: string) => Placement, movedOf: (key: string) => MovedTable | undefined): Table | undefined {
  const t = matchEntry(e.d.table, e.index, false);
  if ('message' in t) {
    e.problems.add(`${e.path}.table`, t.message, t.fix);
    return undefined;
  }
  const table = e.index.byKey.get(t.tables[0]!)!;
  const place = placementOf(tableKey(table));
  if (place === 'unsettled') return table; // its own problem is reported elsewhere
  const moved = movedOf(tableKey(table));
  if (moved) {
    e.problems.add(
      `${e.path}.table`,
      `${e.index.display(table)} was ${describeMoved(moved)}: this split adds no column to it`,
      `remove this entry: ${moved.service ?? 'that split\'s service'} owns the table now, in its own database`,
    );
    return undefined;
  }
  const owner = typeof place === 'object' ? place.service : null;
  if (owner === service) return table;
  const shown = e.index.display(table);
  e.problems.add(
    `${e.path}.table`,
    `${service} does not own ${shown}${owner ? ` (${owner} does)` : ''}; columns are only added to a service's own tables`,
    owner
      ? `move this entry to services.${owner}.denormalize, or add ${shown} to services.${service}.tables`
      : `add ${shown} to services.${service}.tables`,
  );
  return undefined;
}

/** The source table and column named by `from`. */
function sourceColumn(e: Entry): { from: Table; column: Column } | undefined {
  const parts = parseNameParts(e.d.from);
  if ('error' in parts || parts.length < 2) return undefined; // reported by validation
  const f = matchParts(parts.slice(0, -1).map((p) => p.text), e.index);
  if ('message' in f) {
    e.problems.add(`${e.path}.from`, f.message, f.fix);
    return undefined;
  }
  const from = e.index.byKey.get(f.tables[0]!)!;
  const name = parts[parts.length - 1]!.text;
  const column = from.columns.find((c) => c.name === name);
  if (column) return { from, column };
  const near = closest(name, from.columns.map((c) => c.name));
  const shown = e.index.display(from);
  e.problems.add(
    `${e.path}.from`,
    `${shown} has no column ${JSON.stringify(name)}`,
    near ? `did you mean ${shown}.${near}?` : `name one of: ${list(from.columns.map((c) => c.name))}`,
  );
  return undefined;
}

/** The join for explicit `on` columns: a foreign key on exactly them, else the referenced primary or unique key. */
function explicitJoin(e: Entry, table: Table, from: Table): Join | undefined {
  const on = e.d.on;
  const missing = on.filter((c) => !table.columns.some((col) => col.name === c));
  if (missing.length > 0) {
    const near = closest(missing[0]!, table.columns.map((c) => c.name));
    const fix = near ? `did you mean ${near}?` : `name columns of ${e.index.display(table)}`;
    e.problems.add(`${e.path}.on`, `${e.index.display(table)} has no column ${list(missing)}`, fix);
    return undefined;
  }
  const onExactly = (c: Constraint): boolean => c.columns.length === on.length && on.every((col) => c.columns.includes(col));
  const fk = foreignKeysTo(table, tableKey(from)).find(onExactly);
  if (fk) return fkJoin(fk, on);
  const sized = (type: Constraint['type']) => from.constraints.find((c) => c.type === type && c.columns.length === on.length);
  const key = sized('p') ?? sized('u');
  if (key) return { pairs: on.map((local, i) => ({ local, referenced: key.columns[i]! })), fk: null };
  const pk = from.constraints.find((c) => c.type === 'p');
  e.problems.add(
    `${e.path}.on`,
    `on names ${plural(on.length, 'column')}, but ${from.name} has no primary or unique key of ${plural(on.length, 'column')}`,
    pk
      ? `name the ${pk.columns.length} column(s) of ${e.index.display(table)} that hold ` +
        `${e.index.display(from)}'s key (${list(pk.columns)})`
      : `give ${e.index.display(from)} a primary key, or list the matching columns`,
  );
  return undefined;
}

/** The join when `on` is not written: the one foreign key from `table` to `from`. */
function defaultJoin(e: Entry, table: Table, from: Table): Join | undefined {
  const fks = foreignKeysTo(table, tableKey(from));
  if (fks.length === 1) return fkJoin(fks[0]!, fks[0]!.columns);
  const [t, f] = [e.index.display(table), e.index.display(from)];
  if (fks.length === 0) {
    const pk = from.constraints.find((c) => c.type === 'p');
    e.problems.add(
      `${e.path}.on`,
      `there is no foreign key from ${t} to ${f}, so the join is unknown`,
      `write on: [...] naming the column(s) of ${t} that hold ${f}'s ${pk ? `key (${list(pk.columns)})` : 'key'}`,
    );
  } else {
    e.problems.add(
      `${e.path}.on`,
      `${t} has ${fks.length} foreign keys to ${f} (${fks.map((c) => `${c.name}: ${list(c.columns)}`).join('; ')}), ` +
        'so the join is ambiguous',
      `choose one: ${fks.map((c) => `on: [${list(c.columns)}]`).join(' or ')}`,
    );
  }
  return undefined;
}

/**
 * Resolves one service's denormalize entries: the table must be one the service
 * owns, `from` an existing column, the new column a free name, and the join
 * either `on` or the one foreign key from `table` to `from`'s table.
 */
export function resolveDenormalize(
  service: ServiceSpec,
  index: CatalogIndex,
  placementOf: (key: string) => Placement,
  problems: ProblemList,
  movedOf: (key: string) => MovedTable | undefined = () => undefined,
): ResolvedDenormalize[] {
  const out: ResolvedDenormalize[] = [];
  const added = new Set<string>();
  service.denormalize.forEach((d, i) => {
    const e: Entry = { d, path: joinPath(`${joinPath('services', service.name)}.denormalize`, i), index, problems };
    const table = targetTable(e, service.name, placementOf, movedOf);
    const source = sourceColumn(e);
    if (table) {
      const slot = `${tableKey(table)}\0${d.column}`;
      if (table.columns.some((c) => c.name === d.column)) {
        const like = source ? `${source.from.name}_${source.column.name}` : `${d.column}_copy`;
        problems.add(
          `${e.path}.column`,
          `${index.display(table)} already has a column ${JSON.stringify(d.column)}`,
          `choose a new column name, like ${like}`,
        );
      } else if (added.has(slot)) {
        problems.add(
          `${e.path}.column`,
          `column ${JSON.stringify(d.column)} is added to ${index.display(table)} twice`,
          'give each denormalized column its own name',
        );
      }
      added.add(slot);
    }
    if (!table || !source) return;
    const join = d.on.length > 0 ? explicitJoin(e, table, source.from) : defaultJoin(e, table, source.from);
    if (!join) return;
    out.push({
      path: e.path,
      spec: d,
      table: tableKey(table),
      column: d.column,
      from: { table: tableKey(source.from), column: source.column.name },
      type: source.column.type,
      typeKey: source.column.typeKey,
      on: join.pairs,
      foreignKey: join.fk,
    });
  });
  return out;
}
