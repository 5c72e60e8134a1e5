import type { Catalog, Column, Constraint, QualifiedName, Table, View } from '../../../src/catalog/model.js';

/** `schema.name` (split at the first dot) or an explicit name, for names holding dots. */
export type NameSpec = string | QualifiedName;

export function qn(spec: NameSpec): QualifiedName {
  if (typeof spec !== 'string') return spec;
  const dot = spec.indexOf('.');
  return dot === -1 ? { schema: 'public', name: spec } : { schema: spec.slice(0, dot), name: spec.slice(dot + 1) };
}

export interface TableOptions {
  /** `name` or `name:type` (default type integer). Default: ['id']. */
  columns?: string[];
  /** Primary key columns; default ['id'] when there is an id column; [] for none. */
  pk?: string[];
  unique?: string[][];
  fks?: Array<{ name?: string; columns: string[]; references: NameSpec; refColumns?: string[]; inherited?: boolean; definition?: string }>;
  partitionOf?: NameSpec;
  partitioned?: boolean;
}

/** Builds small Catalog objects by hand for resolve tests. */
export class CatalogBuilder {
  private readonly tables: Table[] = [];
  private readonly views: View[] = [];
  constructor(
    private readonly schemas: string[] = ['public'],
    private readonly database = 'cloudphone_core',
  ) {}

  table(spec: NameSpec, opts: TableOptions = {}): this {
    const { schema, name } = qn(spec);
    const columns: Column[] = (opts.columns ?? ['id']).map((c, i) => {
      const [colName, type] = c.split(':') as [string, string | undefined];
      return {
        name: colName, position: i + 1, type: type ?? 'integer', typeKey: null, typeFlags: [], notNull: false, default: null,
        identity: null, generated: null, collation: null, comment: null, statistics: null, storage: null, compression: null,
        options: [], inherited: false,
      };
    });
    const pk = opts.pk ?? (columns.some((c) => c.name === 'id') ? ['id'] : []);
    const constraint = (c: Partial<Constraint> & Pick<Constraint, 'name' | 'type' | 'columns'>): Constraint => ({
      definition: '', validated: true, deferrable: false, deferred: false, references: null, index: null, inherited: false, comment: null, ...c,
    });
    const constraints: Constraint[] = [];
    if (pk.length > 0) constraints.push(constraint({ name: `${name}_pkey`, type: 'p', columns: pk }));
    (opts.unique ?? []).forEach((u, i) => constraints.push(constraint({ name: `${name}_key${i}`, type: 'u', columns: u })));
    for (const fk of opts.fks ?? []) {
      const target = qn(fk.references);
      constraints.push(constraint({
        name: fk.name ?? `${name}_${fk.columns.join('_')}_fkey`, type: 'f', columns: fk.columns, inherited: fk.inherited ?? false,
        references: { table: target, columns: fk.refColumns ?? ['id'] },
        ...(fk.definition ? { definition: fk.definition } : {}),
      }));
    }
    this.tables.push({
      schema, name, kind: opts.partitioned ? 'p' : 'r', persistence: 'p',
      partitionOf: opts.partitionOf ? { parent: qn(opts.partitionOf), bound: 'DEFAULT' } : null,
      partitionKey: opts.partitioned ? 'RANGE (id)' : null, inherits: [], reloptions: [], toastReloptions: [],
      replicaIdentity: 'd', replicaIdentityIndex: null, rowSecurity: false, forceRowSecurity: false, comment: null,
      rowsEstimate: 10, bytes: 8192, columns, constraints, indexes: [], triggers: [], policies: [],
      dependsOn: { types: [], functions: [], sequences: [], extensions: [] },
    });
    return this;
  }

  view(spec: NameSpec, dependsOn: string[], materialized = false): this {
    this.views.push({ ...qn(spec), materialized, definition: 'SELECT 1', dependsOn, comment: null });
    return this;
  }

  build(): Catalog {
    const byName = (a: QualifiedName, b: QualifiedName): number => (a.schema + '.' + a.name < b.schema + '.' + b.name ? -1 : 1);
    return {
      formatVersion: 1, serverVersionNum: 180000, serverVersion: '18.0', database: this.database, encoding: 'UTF8',
      collate: 'C.UTF-8', ctype: 'C.UTF-8', localeProvider: 'c', icuLocale: null, schemas: this.schemas,
      tables: [...this.tables].sort(byName), views: [...this.views].sort(byName), sequences: [], types: [], functions: [], extensions: [],
    };
  }
}
