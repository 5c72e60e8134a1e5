import type { Catalog, QualifiedName } from '../catalog/model.js';
import { parseKey } from '../catalog/model.js';
import { manifestName } from '../manifest/names.js';
import { groupTables } from './group-tables.js';
import type { Grouping, TableGroup } from './model.js';
import { databaseNames, serviceName, sourceVariable, splitName } from './naming.js';

/** A foreign key the proposed split drops, as the manifest comments show it. */
export interface ProposedDroppedKey {
  /** Manifest spelling of the referencing table. */
  table: string;
  columns: string[];
  /** Manifest spelling of the referenced table. */
  references: string;
  /** The service owning the referenced table; null when it stays in the source. */
  service: string | null;
  /** `user-service`, `ignored: stays in the source` or `outside the split schemas`. */
  where: string;
}

/**
 * One proposed service. Invariants: `tables` and `views` are manifest
 * spellings (schema-qualified only when the bare name is ambiguous); `name`
 * and `database` are unique in the proposal.
 */
export interface ProposedService {
  name: string;
  database: string;
  group: TableGroup;
  tables: string[];
  views: string[];
  absorbed: string[];
  byPrefix: string[];
  center: string | null;
  /** Foreign keys from this service's tables to tables it does not own. */
  droppedForeignKeys: ProposedDroppedKey[];
}

/** A proposed `ignore` entry: manifest spelling, and why. */
export interface ProposedIgnore {
  name: string;
  kind: 'table' | 'view';
  reason: string;
}

/**
 * Everything `init` writes, before it is YAML. Invariants: the source URL is not
 * in it, only `sourceVariable`, the environment variable the manifest reads it
 * from; every table of `schemas` is in exactly one service or in `ignore`.
 */
export interface SplitProposal {
  name: string;
  database: string;
  schemas: string[];
  sourceVariable: string;
  services: ProposedService[];
  ignore: ProposedIgnore[];
  grouping: Grouping;
}

/** Manifest spelling of relation keys: qualified when another table or view of the schemas has the same name. */
export function manifestSpeller(catalog: Catalog, schemas: readonly string[]): (key: string) => string {
  const counts = new Map<string, number>();
  const relations: QualifiedName[] = [...catalog.tables.filter((t) => !t.partitionOf), ...catalog.views];
  for (const r of relations) if (schemas.includes(r.schema)) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  return (key) => {
    const q = parseKey(key);
    return manifestName(q, (counts.get(q.name) ?? 0) > 1 || !schemas.includes(q.schema));
  };
}

/** Groups the catalog's tables (groupTables) and names the services, databases and variables of the proposal. */
export function proposeSplit(catalog: Catalog, schemas: readonly string[]): SplitProposal {
  const grouping = groupTables(catalog, schemas);
  const spell = manifestSpeller(catalog, schemas);
  const names = grouping.groups.map((g) => serviceName(g.key));
  const databases = databaseNames(catalog.database, grouping.groups.map((g) => g.key));
  const services: ProposedService[] = grouping.groups.map((g, i) => ({
    name: names[i]!,
    database: databases[i]!,
    group: g,
    tables: g.tables.map(spell),
    views: g.views.map(spell),
    absorbed: g.absorbed.map(spell),
    byPrefix: g.byPrefix.map(spell),
    center: g.center === null ? null : spell(g.center),
    droppedForeignKeys: [],
  }));
  for (const fk of grouping.foreignKeys) {
    const to = fk.toGroup;
    services[fk.fromGroup]!.droppedForeignKeys.push({
      table: spell(fk.table),
      columns: fk.columns,
      references: spell(fk.references.table),
      service: typeof to === 'number' ? names[to]! : null,
      where: typeof to === 'number' ? names[to]! : to === 'ignored' ? 'ignored: stays in the source' : 'outside the split schemas',
    });
  }
  return {
    name: splitName(catalog.database),
    database: catalog.database,
    schemas: [...schemas],
    sourceVariable: sourceVariable(catalog.database),
    services,
    ignore: grouping.ignored.map((r) => ({ name: spell(r.key), kind: r.kind, reason: r.reason })),
    grouping,
  };
}
