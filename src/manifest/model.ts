/**
 * The split manifest (SPEC §1). `Manifest` is what the YAML says, with defaults
 * filled in and `${VAR}` references still unexpanded: it is safe to print and to
 * store in a plan file. Secrets are expanded only through `expand()` at the moment
 * a connection or a password is needed.
 */
export interface Manifest {
  version: 1;
  name: string;
  /**
   * `retire`: everything that stays in the source is legacy, so the whole database
   * becomes a read-only backup that `retention prune` drops. False (the default): the
   * source stays in use; only the moved tables are kept (fenced) and later pruned.
   */
  source: { url: string; schemas: string[]; retire: boolean; settings?: ConnectionSettings };
  /** Unset: database "cloudphone_split" on the source server. */
  control: { url: string; settings?: ConnectionSettings } | null;
  /** Extra target servers by name (their URLs); "source" always means the source's server. */
  servers: Record<string, string>;
  /** Settings written beside `url` in the object form of `servers.<name>`; absent: none. */
  serverSettings?: Record<string, ConnectionSettings>;
  mode: 'offline' | 'online';
  /**
   * How offline copies travel (absent: relay): `relay` streams every row through this
   * tool; `server` has each target server pull its tables from the source with logical
   * replication's table synchronisation. A service's own `copy` wins.
   */
  copy?: CopyMethod;
  retention: { days: number; archive: string | null };
  services: ServiceSpec[];
  ignore: string[];
}

/**
 * What may be written beside a connection's `url` (in `source`, `control`, or
 * `servers.<name>: { url: ... }`). Certificate paths may use `${VAR}`; the password
 * command is run by the shell, which expands its variables itself.
 */
export interface ConnectionSettings {
  /** libpq's sslmode, with its meanings for every connection (see src/conn/tls.ts). */
  sslmode?: string;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  /** Run for each new connection; its standard output, trimmed, is the password. */
  passwordCommand?: string;
}

export interface ServiceSpec {
  name: string;
  database: string;
  server: string;
  /**
   * The login role that owns the new database. `existing`: a role the split did not
   * create, adopted as it is (its password is never changed, rollback never drops it);
   * without it, a role that already exists and that the split did not create is refused.
   */
  role: { name: string; password: string | null; existing?: boolean } | null;
  /** As written: table names or globs, optionally schema-qualified. */
  tables: string[];
  copies: string[];
  /**
   * Functions, procedures, aggregates, sequences and types (names or globs, optionally
   * schema-qualified; a function name places all its overloads) that this service's
   * database gets although none of its tables needs them. Empty when absent.
   */
  objects: string[];
  denormalize: DenormalizeSpec[];
  config: ConfigEntry[];
  health: string | null;
  restart: string | null;
  /** Absent: the manifest's `copy` (default relay). */
  copy?: CopyMethod;
}

export type CopyMethod = 'relay' | 'server';

export interface DenormalizeSpec {
  table: string;
  column: string;
  /** `table.column` in the source. */
  from: string;
  /** Local columns equal to the referenced key; empty = the one foreign key from `table` to `from`'s table. */
  on: string[];
}

/**
 * A config file to repoint. `file` is relative to the manifest's folder and must stay
 * inside it (symlinks resolved) unless `outside: true`.
 */
export type ConfigEntry =
  | { file: string; key: string; value: string; outside?: boolean }
  | { file: string; replace: string; with: string; outside?: boolean };

/** Where a problem is: the manifest file, a key path like `services.user-service.tables[2]`. */
export interface ManifestProblem {
  file: string;
  path: string;
  message: string;
  /** What to write instead. */
  fix: string;
}
