import type { Catalog, Column, Constraint, Index, Sequence, Table, TypeDef, FunctionDef, View } from '../../../src/catalog/model.js';

/** Small builders of catalog objects for rendering tests: every field set, overrides on top. */

export function column(name: string, type: string, over: Partial<Column> = {}): Column {
  return {
    name,
    position: 1,
    type,
    typeKey: null,
    typeFlags: [],
    notNull: false,
    default: null,
    identity: null,
    generated: null,
    collation: null,
    comment: null,
    statistics: null,
    storage: null,
    compression: null,
    options: [],
    inherited: false,
    ...over,
  };
}

export function constraint(name: string, type: Constraint['type'], definition: string, over: Partial<Constraint> = {}): Constraint {
  return {
    name,
    type,
    definition,
    columns: [],
    validated: true,
    deferrable: false,
    deferred: false,
    references: null,
    index: null,
    inherited: false,
    comment: null,
    ...over,
  };
}

export function index(name: string, definition: string, over: Partial<Index> = {}): Index {
  return { name, definition, constraint: null, unique: false, primary: false, clustered: false, parentIndex: null, comment: null, ...over };
}

export function table(schema: string, name: string, over: Partial<Table> = {}): Table {
  return {
    schema,
    name,
    kind: 'r',
    persistence: 'p',
    partitionOf: null,
    partitionKey: null,
    inherits: [],
    reloptions: [],
    toastReloptions: [],
    replicaIdentity: 'd',
    replicaIdentityIndex: null,
    rowSecurity: false,
    forceRowSecurity: false,
    comment: null,
    rowsEstimate: 10,
    bytes: 8192,
    columns: [column('id', 'integer', { notNull: true })],
    constraints: [],
    indexes: [],
    triggers: [],
    policies: [],
    dependsOn: { types: [], functions: [], sequences: [], extensions: [] },
    ...over,
  };
}

export function sequence(schema: string, name: string, over: Partial<Sequence> = {}): Sequence {
  return {
    schema,
    name,
    dataType: 'bigint',
    start: '1',
    increment: '1',
    min: '1',
    max: '9223372036854775807',
    cache: '1',
    cycle: false,
    unlogged: false,
    ownedBy: null,
    identity: false,
    comment: null,
    ...over,
  };
}

export function typeDef(schema: string, name: string, over: Partial<TypeDef> = {}): TypeDef {
  return {
    schema,
    name,
    kind: 'enum',
    ddl: [`CREATE TYPE "${schema}"."${name}" AS ENUM ('a')`],
    dependsOn: [],
    comment: null,
    ...over,
  };
}

export function functionDef(schema: string, name: string, over: Partial<FunctionDef> = {}): FunctionDef {
  return {
    schema,
    name,
    identityArgs: '',
    ddl: `CREATE OR REPLACE FUNCTION "${schema}"."${name}"() RETURNS integer LANGUAGE sql AS $function$SELECT 1$function$`,
    dependsOn: [],
    comment: null,
    ...over,
  };
}

export function view(schema: string, name: string, over: Partial<View> = {}): View {
  return { schema, name, materialized: false, definition: ' SELECT 1 AS "x";', dependsOn: [], comment: null, ...over };
}

export function catalog(over: Partial<Catalog> = {}): Catalog {
  return {
    formatVersion: 1,
    serverVersionNum: 150000,
    serverVersion: '15.0',
    database: 'core',
    encoding: 'UTF8',
    collate: 'C.UTF-8',
    ctype: 'C.UTF-8',
    localeProvider: 'c',
    icuLocale: null,
    schemas: ['public'],
    tables: [],
    views: [],
    sequences: [],
    types: [],
    functions: [],
    extensions: [],
    ...over,
  };
}
