/**
 * The source catalog, as plain JSON-serialisable data. `snapshot -o` writes it and
 * `plan --schema` reads it back, so every field must survive JSON.stringify/parse.
 *
 * Invariants:
 * - Names are unquoted identifiers as PostgreSQL stores them; `key`s are
 *   `schema.name` with both parts unquoted (used only as map keys, never as SQL).
 * - Every `definition`/`ddl` string is complete SQL produced by the server's own
 *   pg_get_*def functions (run with search_path='' and quote_all_identifiers=on),
 *   so names inside are schema-qualified and quoted.
 * - Arrays are sorted deterministically (by name, or by position for columns)
 *   so that equal catalogs serialise to equal bytes.
 */
export interface Catalog {
  formatVersion: 1;
  serverVersionNum: number;
  serverVersion: string;
  database: string;
  encoding: string;
  collate: string;
  ctype: string;
  /** 'c' (libc), 'i' (icu), 'b' (builtin, 17+). */
  localeProvider: string;
  icuLocale: string | null;
  /**
   * The database's own settings for every role (`ALTER DATABASE … SET`, pg_db_role_setting),
   * as `name=value` the way the server keeps them (`search_path=app, public`). Absent when
   * none, and in snapshots made before they were read.
   */
  settings?: string[];
  /** Settings of one role in this database (`ALTER ROLE r IN DATABASE … SET`), by role. Absent when none. */
  roleSettings?: Array<{ role: string; settings: string[] }>;
  /** Settings left out of `settings` and `roleSettings` because they hold a secret (their names only, `(role r)` after a role's); absent when none. */
  secretSettings?: string[];
  schemas: string[];
  /**
   * The tables of `schemas`, and every partition (at any depth) of a partitioned
   * table of `schemas`, whatever schema that partition lives in.
   */
  tables: Table[];
  views: View[];
  sequences: Sequence[];
  types: TypeDef[];
  functions: FunctionDef[];
  extensions: Extension[];
  /** Foreign tables of `schemas` (their rows live on another server: nothing to copy); absent when none. */
  foreignTables?: Array<QualifiedName & { server: string }>;
  /** How many large objects (pg_largeobject_metadata) the database holds; absent when none. COPY of a table does not carry them. */
  largeObjects?: number;
  /** Every extension installed in the database but plpgsql, whether anything read needs it or not; absent when none. */
  installedExtensions?: Array<{ name: string; schema: string }>;
  /**
   * The database's publications (not the ones a split makes for online mode) that publish
   * tables of `schemas`: by name, with the keys of those tables. Absent when none.
   */
  publications?: Publication[];
  /**
   * The database's own text search configurations and dictionaries (not an extension's), each
   * with the statements that make it again: carried to each database whose objects name it.
   * Absent when none.
   */
  textSearch?: TextSearchObject[];
  /** The database's own collations (`CREATE COLLATION`; not pg_catalog's, not an extension's), each with the statement that makes it again. Absent when none. */
  collations?: Array<{ schema: string; name: string; ddl: string; comment?: string }>;
  /**
   * `ALTER DEFAULT PRIVILEGES` of the database, global or for one of `schemas`: what
   * objects created later get. Absent when none.
   */
  defaultPrivileges?: DefaultPrivilege[];
  /** The selected schemas with their comments and privileges (absent in snapshots made before it existed). */
  namespaces?: Namespace[];
  /**
   * Tables of the source that a split's fence makes reject writes (its trigger,
   * removed from `tables` with the tool's other objects): what earlier splits moved.
   * Absent in snapshots made before it existed.
   */
  fences?: FencedTable[];
}

/**
 * A publication of the source that publishes tables of the split's schemas. `members`,
 * `schemas`, `publish` and `viaRoot` say how it was made (absent in snapshots made before
 * they were read: such a publication is named in a warning, not carried).
 */
/**
 * A text search configuration or dictionary of the database (not pg_catalog's), with the
 * statements that make it again: a dictionary over its template and options, a
 * configuration over its parser with every token type's dictionaries in order (as
 * `pg_dump` writes them).
 */
export interface TextSearchObject {
  kind: 'configuration' | 'dictionary';
  schema: string;
  name: string;
  ddl: string[];
  /** A configuration's dictionaries outside pg_catalog, as `schema.name`. */
  dictionaries: string[];
  /** Extensions it needs (a dictionary's template, a configuration's dictionaries of an extension). */
  needs: Array<{ name: string; schema: string }>;
  /** Made over a parser or template of the database's own (not pg_catalog's, not an extension's): not made again. */
  ownBase: boolean;
}

export interface Publication {
  name: string;
  /** FOR ALL TABLES. */
  allTables: boolean;
  /** Every table of the split's schemas it publishes (pg_publication_tables), as keys. */
  tables: string[];
  /** The tables it names (FOR TABLE), each with its row filter and column list (PostgreSQL 15+) where it has one. */
  members?: Array<{ table: string; where?: string; columns?: string[] }>;
  /** The schemas it publishes whole (FOR TABLES IN SCHEMA, PostgreSQL 15+). */
  schemas?: string[];
  /** The operations it publishes, of insert, update, delete and truncate. */
  publish?: string[];
  /** publish_via_partition_root. */
  viaRoot?: boolean;
}

/** A table fenced by a split: `database` is where its rows went, `split` the split that moved them. */
export interface FencedTable {
  table: string;
  database: string;
  split: string;
}

/** One `pg_default_acl` entry: objects of `objects` kind that `role` creates (in `schema`, or anywhere) get `grants`. */
export interface DefaultPrivilege {
  role: string;
  /** null: in every schema. */
  schema: string | null;
  objects: 'tables' | 'sequences' | 'functions' | 'types' | 'schemas';
  /** `grantee PRIVILEGE`, PUBLIC for everyone; empty when the entry only revokes defaults. */
  grants: string[];
}

/**
 * Privileges of one object beyond its owner's: what `GRANT`s recreate. Grants to the
 * owner are left out (the owner changes in the split); `revokedFromPublic` lists what
 * PUBLIC has by default on such an object (EXECUTE on functions, USAGE on types) but
 * not on this one.
 */
export interface Privileges {
  /** `grantee` null means PUBLIC. `privileges` are SQL keywords (SELECT, EXECUTE...). */
  grants: Array<{ grantee: string | null; privileges: string[]; grantable: string[] }>;
  revokedFromPublic: string[];
  /** Column privileges of a table or view, by column name. */
  columns?: Record<string, Array<{ grantee: string | null; privileges: string[]; grantable: string[] }>>;
}

export interface Namespace {
  name: string;
  comment: string | null;
  privileges?: Privileges;
}

export interface QualifiedName {
  schema: string;
  name: string;
}

export interface Table extends QualifiedName {
  /** 'r' ordinary, 'p' partitioned. Partitions are tables too, with `partitionOf` set. */
  kind: 'r' | 'p';
  /** 'p' permanent, 'u' unlogged. */
  persistence: 'p' | 'u';
  partitionOf: { parent: QualifiedName; bound: string } | null;
  /** pg_get_partkeydef, for kind 'p'. */
  partitionKey: string | null;
  /** Parents of a traditional inheritance child (not partitions). */
  inherits: QualifiedName[];
  reloptions: string[];
  toastReloptions: string[];
  /** 'd' default, 'n' nothing, 'f' full, 'i' index (see replicaIdentityIndex). */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  replicaIdentityIndex: string | null;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  /** The table access method (CREATE TABLE … USING), absent for heap. */
  accessMethod?: string;
  comment: string | null;
  /** pg_class.reltuples (−1 when never analysed) and pg_total_relation_size (0 when the table itself is empty). */
  rowsEstimate: number;
  bytes: number;
  columns: Column[];
  constraints: Constraint[];
  indexes: Index[];
  triggers: Trigger[];
  policies: Policy[];
  /** Rules (CREATE RULE) on the table; absent in catalogs read before they were. */
  rules?: Rule[];
  /** Extended statistics (CREATE STATISTICS) on the table; absent in catalogs read before they were. */
  statistics?: ExtendedStatistics[];
  privileges?: Privileges;
  /** Objects this table needs on the target, beyond its own: keys of types, functions, sequences; extension names. */
  dependsOn: { types: string[]; functions: string[]; sequences: string[]; extensions: string[] };
  /**
   * What the table (its columns, constraints, indexes, or the types and functions it needs) uses that no
   * step can create in a new database and no extension brings: a user's base type, operator, operator
   * class or family, as PostgreSQL describes it; absent when none.
   */
  uncarried?: string[];
}

export interface Column {
  name: string;
  /** attnum, 1-based, of the column in the source. */
  position: number;
  /** format_type(atttypid, atttypmod), schema-qualified where needed. */
  type: string;
  /** Key (`schema.name`) of the column's type when it is a user-defined type (or an array of one). */
  typeKey: string | null;
  /** The extension that makes that type (citext, hstore…); absent when none, and in snapshots made before it was read. */
  typeExtension?: string;
  /** typcategory/kind hints for copy and checksum: 'enum', 'json', 'nohash', 'binary-unsafe', ... */
  typeFlags: string[];
  /** NOT NULL before the data is loaded (on 18, a NOT VALID not-null constraint is a `Constraint` of type 'n' instead). */
  notNull: boolean;
  /** pg_get_expr of the default, never set for generated columns. */
  default: string | null;
  identity: { kind: 'a' | 'd'; sequence: string } | null;
  generated: { kind: 's' | 'v'; expression: string } | null;
  /** Set only when it differs from the type's default collation. */
  collation: string | null;
  comment: string | null;
  /** pg_dump's per-column tail: SET STATISTICS/STORAGE/COMPRESSION/options. */
  statistics: number | null;
  storage: string | null;
  compression: string | null;
  options: string[];
  /** Inherited from a parent (not attislocal): omitted from CREATE TABLE of a child. */
  inherited: boolean;
}

export interface Constraint {
  name: string;
  /** p primary key, u unique, x exclusion, c check, f foreign key, n not-null (18+, only when named specially). */
  type: 'p' | 'u' | 'x' | 'c' | 'f' | 'n';
  /** Full `ALTER TABLE ... ADD CONSTRAINT` body: pg_get_constraintdef, or rebuilt as pg_dump does for p/u. */
  definition: string;
  columns: string[];
  validated: boolean;
  deferrable: boolean;
  deferred: boolean;
  /** For foreign keys: the referenced table and columns, paired by position with `columns`. */
  references: { table: QualifiedName; columns: string[] } | null;
  /** Name of the index that implements p/u/x. */
  index: string | null;
  /**
   * Inherited from a parent partitioned table (conparentid <> 0), or a CHECK / NOT
   * NULL a partition or inheritance child gets from its parent (not conislocal):
   * created by the parent's.
   */
  inherited: boolean;
  comment: string | null;
}

export interface Index {
  name: string;
  /** pg_get_indexdef. For partitioned parents it reads `ON ONLY`. */
  definition: string;
  /** Set when the index implements a constraint (then the constraint creates it). */
  constraint: string | null;
  unique: boolean;
  primary: boolean;
  clustered: boolean;
  /** Index of a partition that is attached to a parent partitioned index. */
  parentIndex: QualifiedName | null;
  comment: string | null;
  /** ALTER INDEX … ALTER COLUMN n SET STATISTICS v: by column number (expression columns); absent when none is set. */
  statistics?: Array<{ column: number; target: number }>;
}

export interface Trigger {
  name: string;
  /** pg_get_triggerdef(oid, false). */
  definition: string;
  /** pg_trigger.tgenabled: O, D, R, A. */
  enabled: string;
  function: string;
  comment: string | null;
  /**
   * Set on a partition's clone of its parent's trigger, listed only because its
   * enabled state differs: the parent's trigger creates it, only `enabled` is applied.
   */
  inherited?: boolean;
}

/** A rule of a table (not a view's `_RETURN`). */
export interface Rule {
  name: string;
  /** pg_get_ruledef(oid), without its final semicolon. */
  definition: string;
  /** pg_rewrite.ev_enabled: O, D, R, A. */
  enabled: string;
  comment: string | null;
  /** Keys of the other tables and views its actions name (pg_depend): they must be in the same database. */
  references: string[];
}

/** An extended statistics object (CREATE STATISTICS) on a table. */
export interface ExtendedStatistics {
  schema: string;
  name: string;
  /** pg_get_statisticsobjdef(oid). */
  definition: string;
  /** ALTER STATISTICS … SET STATISTICS; null: the default. */
  target: number | null;
  comment: string | null;
}

export interface Policy {
  name: string;
  /** A complete CREATE POLICY statement. */
  definition: string;
  roles: string[];
  comment: string | null;
}

export interface View extends QualifiedName {
  materialized: boolean;
  /** pg_get_viewdef. */
  definition: string;
  /** Keys of the tables (and views) it reads. */
  dependsOn: string[];
  comment: string | null;
  /** pg_class.reloptions (security_barrier, check_option, ...). */
  options?: string[];
  /** false: a materialized view never filled (WITH NO DATA, never refreshed), made so in the target too; absent: filled. */
  populated?: false;
  /** Column defaults of a view (ALTER VIEW … ALTER COLUMN … SET DEFAULT: what an INSERT through it gets); absent when none. */
  columnDefaults?: Array<{ column: string; default: string }>;
  /** A materialized view's indexes (pg_get_indexdef), by name; absent when none. */
  indexes?: Array<{ name: string; definition: string; comment: string | null; clustered?: true }>;
  /** Keys of the types and functions its query uses (they are in `Catalog.types`/`functions`). */
  uses?: { types: string[]; functions: string[]; extensions: string[] };
  /** As `Table.uncarried`, for what the view's query uses. */
  uncarried?: string[];
  privileges?: Privileges;
}

export interface Sequence extends QualifiedName {
  dataType: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  unlogged: boolean;
  /** OWNED BY table.column (serial), or the identity column it backs. */
  ownedBy: { table: QualifiedName; column: string } | null;
  identity: boolean;
  comment: string | null;
  privileges?: Privileges;
}

export interface TypeDef extends QualifiedName {
  kind: 'enum' | 'domain' | 'composite' | 'range';
  /** Complete CREATE TYPE / CREATE DOMAIN statement(s). */
  ddl: string[];
  /** Keys of the types and functions it needs first. */
  dependsOn: string[];
  comment: string | null;
  /** Names of the extensions it needs (a domain over citext...). */
  extensions?: string[];
  privileges?: Privileges;
}

export interface FunctionDef extends QualifiedName {
  /** pg_get_function_identity_arguments: the key is `schema.name(args)`. */
  identityArgs: string;
  /**
   * pg_proc.prokind: f function, p procedure, a aggregate, w window function
   * (absent in snapshots made before aggregates were read: a function).
   */
  kind?: 'f' | 'p' | 'a' | 'w';
  /**
   * pg_get_functiondef (CREATE OR REPLACE FUNCTION/PROCEDURE ...); for an aggregate,
   * CREATE OR REPLACE AGGREGATE built from pg_aggregate as pg_dump does.
   */
  ddl: string;
  /** Keys of the types and functions it needs first (an aggregate: its state, final, combine... functions). */
  dependsOn: string[];
  comment: string | null;
  /** Names of the extensions it needs. */
  extensions?: string[];
  /**
   * What its body names that pg_depend does not see: keys of the sequences named in
   * its string literals (`nextval('s')`), which travel with it, and of the tables it
   * writes to (INSERT/UPDATE/DELETE/MERGE/TRUNCATE), which must be in the same database,
   * of the tables it only reads (FROM/JOIN/USING), which must be there too when it runs,
   * keys of the source's functions it calls (every overload of the name) and of the types
   * it names in casts and declarations, and the names
   * of the extensions whose functions it calls (`hmac(...)`: pgcrypto); the functions and
   * extensions it calls travel with it. `outside`: tables it writes to in a schema the
   * split does not read (`outbox.messages`), which no service database gets.
   */
  body?: { sequences: string[]; writes: string[]; reads?: string[]; outside?: string[]; calls?: string[]; types?: string[]; extensions?: string[]; dynamic?: true };
  /**
   * Keys of the tables (or views) whose row type its arguments or result use: it can
   * only be created after them, in a database that has them.
   */
  rowTypes?: string[];
  /** `schema.name(argtypes)` as regprocedure prints it: what GRANT ... ON FUNCTION takes. */
  signature?: string;
  privileges?: Privileges;
}

export interface Extension {
  name: string;
  schema: string;
  version: string;
}

export const tableKey = (t: QualifiedName): string => `${t.schema}.${t.name}`;
export const functionKey = (f: FunctionDef): string => `${f.schema}.${f.name}(${f.identityArgs})`;

/** The SQL word for a function of this kind (COMMENT ON, ALTER ... OWNER). */
export function routineWord(f: FunctionDef): 'FUNCTION' | 'PROCEDURE' | 'AGGREGATE' {
  return f.kind === 'p' ? 'PROCEDURE' : f.kind === 'a' ? 'AGGREGATE' : 'FUNCTION';
}

/** What the plan calls it: function, procedure, aggregate, window function. */
export function routineNoun(f: FunctionDef): string {
  return f.kind === 'p' ? 'procedure' : f.kind === 'a' ? 'aggregate' : f.kind === 'w' ? 'window function' : 'function';
}

/** Splits a table key at its first dot: schema names with dots are not supported in keys. */
export function parseKey(key: string): QualifiedName {
  const dot = key.indexOf('.');
  return { schema: key.slice(0, dot), name: key.slice(dot + 1) };
}
