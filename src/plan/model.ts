import type { Manifest } from '../manifest/model.js';
import type { QualifiedName } from '../catalog/model.js';
import type { MovedTable } from '../waves/moved-table.js';

/**
 * A plan is plain data: everything `apply` does is in `steps`, in order.
 * Invariants:
 * - `steps[i].id` is unique and stable for the same manifest and catalog.
 * - every id in `dependsOn` names an earlier step.
 * - no secret is stored: passwords stay `${VAR}` references, expanded at run time.
 */
export interface Plan {
  formatVersion: 1;
  toolVersion: string;
  name: string;
  mode: 'offline' | 'online';
  /** The manifest file as written (variables unexpanded) and its path relative to the plan. */
  manifest: { path: string; text: string };
  /** sha256 over the fingerprints of every involved table (and its dependencies). */
  sourceFingerprint: string;
  /** Per table key, sha256 of its catalog entry: lets `apply` name what changed. */
  tableFingerprints: Record<string, string>;
  source: { database: string; serverVersion: string };
  services: ServicePlan[];
  /**
   * Tables earlier splits of the same source moved (SPEC §7), partitions included:
   * this plan leaves them alone (absent in plans made before it existed).
   */
  movedEarlier?: MovedTable[];
  /**
   * Foreign keys that tables staying in the source (or earlier waves' backups) have to
   * this plan's moved tables: kept in the source while the backups exist; pruning the
   * backups drops them by name (absent in plans made before it existed).
   */
  remainingForeignKeys?: RemainingForeignKey[];
  /**
   * Functions, procedures, aggregates, sequences, types and views of the source
   * schemas that no service's database gets (absent in plans made before it existed).
   */
  leftBehind?: LeftBehindObject[];
  steps: Step[];
  warnings: string[];
  errors: string[];
}

/** A function, procedure, aggregate, window function, sequence, type or view a database gets. */
export interface PlannedObject {
  kind: 'function' | 'procedure' | 'aggregate' | 'window function' | 'sequence' | 'type' | 'view';
  /** `schema.name`, with `(argument types)` for functions. */
  name: string;
  /** moved: only this service's database gets it; copied: several do (`services`). */
  placement: 'moved' | 'copied';
  services?: string[];
}

export interface LeftBehindObject {
  kind: PlannedObject['kind'];
  name: string;
  reason: string;
}

export interface ServicePlan {
  name: string;
  database: string;
  server: string;
  role: string | null;
  /** How its tables are copied (absent in plans made before it existed: relay). */
  copy?: 'relay' | 'server';
  tables: TableSize[];
  copies: TableSize[];
  views: string[];
  /** Every function, sequence, type and view its database gets (absent in plans made before it existed). */
  objects?: PlannedObject[];
  droppedForeignKeys: DroppedForeignKey[];
  denormalize: Array<{ table: string; column: string; from: string; on: string[]; type: string }>;
}

/**
 * A table's size as the source's statistics tell it. `analyzed` is false when the table
 * (or one of its partitions) was never analysed (`reltuples` −1): then `rowsEstimate`
 * counts only the analysed partitions, and the plan says "not analyzed yet" instead of a
 * number that would read as "empty".
 */
export interface TableSize {
  name: string;
  rowsEstimate: number;
  bytes: number;
  /** Absent in plans written before it existed: read as true. */
  analyzed?: boolean;
}

export interface DroppedForeignKey {
  /** The table holding the key, `schema.name`. */
  table: string;
  constraint: string;
  columns: string[];
  /** `schema.table(col, ...)` */
  references: string;
  /** Service that owns the referenced table (null when ignored/unowned). */
  referencedService: string | null;
  reason: 'cross-service' | 'copy' | 'ignored';
  /** Denormalized columns declared for it, or proposed ones (`table.column` of the referenced table). */
  denormalizedBy: string[];
  suggestion: string;
  /** The earlier split that moved the referenced table (then `reason` is cross-service). */
  movedBy?: string;
}

/** A foreign key of a table that is not moved by this plan to a table that is. */
export interface RemainingForeignKey {
  /** The table holding the key, `schema.name`: it stays in the source. */
  table: string;
  constraint: string;
  columns: string[];
  /** `schema.table(col, ...)` of this plan's moved table. */
  references: string;
  /** The service of this plan that moves the referenced table. */
  referencedService: string;
  /** null: the table stays in use in the source; else the earlier split whose backup it is. */
  movedBy: string | null;
}

export const STEP_KINDS = [
  'preflight',
  'create_role',
  'create_database',
  'create_schema',
  'start_replication',
  'wait_sync',
  'fence_source',
  'catch_up',
  'start_server_copy',
  'wait_server_copy',
  'stop_server_copy',
  'copy_data',
  'create_indexes',
  'sync_sequences',
  'grant',
  'verify_rowcounts',
  'stop_replication',
  'release_replication',
  'repoint_config',
  'schedule_retention',
  'start_reverse_replication',
  'fence_target',
  'reverse_catch_up',
  'sync_sequences_back',
  'unfence_source',
  'restore_config',
  'stop_reverse_replication',
  'copy_back',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

interface StepBase<K extends StepKind> {
  /** Stable id: `kind:database[:schema.table]`. Keys the journal. */
  id: string;
  kind: K;
  service?: string;
  table?: string;
  description: string;
  /** The exact SQL the step runs, in order, as `--dry-run` prints it. Secrets appear as `${VAR}`. */
  sql: string[];
  /** Steps that must be done before this one can start (the executor runs independent steps in parallel). */
  dependsOn: string[];
  /**
   * Which command runs the step: `apply` (absent means apply) or `cutover` (online mode:
   * fence, catch up, switch). Every cutover step comes after every apply step, and no
   * apply step depends on a cutover step. Online mode also has `reverse` (`rollback`
   * after cutover, through reverse replication) and `complete` (`cutover --complete`,
   * which ends reverse replication): both come after the cutover, and exclude each other.
   */
  phase?: StepPhase;
}

export const STEP_PHASES = ['apply', 'cutover', 'reverse', 'complete'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

/** Where a service's objects go. */
export interface TargetRef {
  service: string;
  server: string;
  database: string;
}

export interface PreflightStep extends StepBase<'preflight'> {
  targets: TargetRef[];
  /** The roles the run creates (not those of `role.existing: true`). */
  roles: string[];
  online: boolean;
}

export interface CreateRoleStep extends StepBase<'create_role'> {
  server: string;
  role: string;
  /** The password as written in the manifest (`${VAR}`), expanded at run time. */
  password: string | null;
  /** `role.existing: true`: the role must exist; it is used as it is, its password never changed. */
  existing?: boolean;
}

export interface CreateDatabaseStep extends StepBase<'create_database'> {
  target: TargetRef;
  owner: string | null;
  encoding: string;
  collate: string;
  ctype: string;
  localeProvider: string;
  icuLocale: string | null;
}

export interface CreateSchemaStep extends StepBase<'create_schema'> {
  target: TargetRef;
}

export interface FenceSourceStep extends StepBase<'fence_source'> {
  tables: string[];
}

export interface CopyDataStep extends StepBase<'copy_data'> {
  target: TargetRef;
  source: QualifiedName;
  /** Target table: same name as the source. */
  columns: string[];
  /** Denormalized columns filled by the source query. */
  extraColumns: string[];
  /** COPY (select) TO STDOUT on the source. */
  copyOut: string;
  /** COPY ... FROM STDIN on the target. */
  copyIn: string;
  /** Partitioned parents hold no rows: their partitions are copied. */
  freeze: boolean;
  binary: boolean;
  rowsEstimate: number;
  /** False when the source table was never analysed: `rowsEstimate` is then 0, not a count. */
  analyzed?: boolean;
  bytes: number;
  /** For a range of a split table: the predicate and the range number. */
  range: { index: number; of: number; where: string } | null;
  /**
   * The source session's `work_mem` floor (kB) for the copy: room for the hash of the
   * lookups joined plainly (denormalize-lookup.ts), so that it is built in one batch
   * instead of spilling the copied rows to temporary files. Absent: no such lookup.
   */
  lookupWorkMemKb?: number;
}

/** A leaf table a target server pulls from the source itself (`copy: server`). */
export interface ServerCopiedTable {
  /** `schema.name`: the same in the source and the target. */
  table: string;
  source: QualifiedName;
  /** The source's columns the table synchronisation copies (generated ones excluded). */
  columns: string[];
  rowsEstimate: number;
  bytes: number;
}

/**
 * `start_server_copy` (offline, `copy: server`, after the fence): on the source a
 * publication of the service's `tables` (leaves, ONLY), a logical slot and a replication
 * role with SELECT on them; on the target a subscription with `copy_data = true`: the
 * target server copies every table from the source itself, all tables and all target
 * servers at once. The tables are fenced, so every table's synchronisation reads the
 * same rows as a snapshot would.
 */
export interface StartServerCopyStep extends StepBase<'start_server_copy'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
  tables: ServerCopiedTable[];
}

/** `wait_server_copy`: until every table of the subscription is ready ('r'); counts the fenced source's rows meanwhile (what verify_rowcounts compares). */
export interface WaitServerCopyStep extends StepBase<'wait_server_copy'> {
  target: TargetRef;
  subscription: string;
  tables: string[];
}

/** `stop_server_copy`: the subscription, its slots, the publication and the replication role dropped: nothing streams afterwards. */
export interface StopServerCopyStep extends StepBase<'stop_server_copy'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
}

export interface CreateIndexesStep extends StepBase<'create_indexes'> {
  target: TargetRef;
  /**
   * Statements run one by one after the step's transaction commits, outside any
   * transaction block (`VACUUM (ANALYZE)` of the table); harmless to repeat.
   * Absent in plans made before it existed.
   */
  afterCommit?: string[];
  /**
   * Publications of the source this step makes again that only a superuser may create
   * (FOR ALL TABLES, FOR TABLES IN SCHEMA): preflight refuses any other role before a change.
   */
  superuserPublications?: Array<{ name: string; scope: 'FOR ALL TABLES' | 'FOR TABLES IN SCHEMA' }>;
}

export interface SyncSequencesStep extends StepBase<'sync_sequences'> {
  target: TargetRef;
  sequences: Array<{ source: QualifiedName; target: QualifiedName }>;
}

export interface GrantStep extends StepBase<'grant'> {
  target: TargetRef;
  role: string | null;
  /**
   * Without a service role: the roles that used the moved tables in the source, given
   * CONNECT and TEMPORARY on the new database (they must exist on its server).
   */
  connect?: string[];
  /**
   * Without a service role: the roles that own objects of the new database in the source
   * and are given them here (src/plan/owners.ts); a tool role that is not superuser must
   * be a member of each (preflight).
   */
  owners?: string[];
}

export interface VerifyRowcountsStep extends StepBase<'verify_rowcounts'> {
  target: TargetRef;
  tables: string[];
}

export interface ConfigEdit {
  file: string;
  /** What the entry does, for display: `DB_DATABASE=`, `database.name`, `replace 'x'`. */
  entry: string;
  /** sha256 of the file as the plan saw it (null: the file did not exist at plan time). */
  beforeHash: string | null;
  afterHash: string | null;
  /** Unified diff, passwords masked. */
  diff: string;
  spec: import('../manifest/model.js').ConfigEntry;
}

export interface RepointConfigStep extends StepBase<'repoint_config'> {
  target: TargetRef;
  edits: ConfigEdit[];
  restart: string | null;
}

/**
 * The last step. `retire` (source.retire): the whole source database becomes the
 * backup (read-only, CONNECT revoked from `roles`, commented). Otherwise only the
 * moved `tables` (`schema.name`, the fenced ones: partitioned roots and their
 * partitions) are marked as backups, each with a comment, and the rest of the source
 * is not touched. Plans written before `retire` existed read as `retire: true`.
 */
export interface ScheduleRetentionStep extends StepBase<'schedule_retention'> {
  database: string;
  days: number;
  roles: string[];
  retire: boolean;
  tables: string[];
}

export interface StartReplicationStep extends StepBase<'start_replication'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
  tables: string[];
  sameServer: boolean;
  /**
   * The leaf tables the subscription fills (partitions, not partitioned parents), with
   * the source columns replicated (generated and denormalized columns excluded): what
   * `verify` compares, as it does for the `copy_data` steps of an offline plan.
   */
  leaves?: Array<{ table: string; source: QualifiedName; columns: string[] }>;
}

export interface WaitSyncStep extends StepBase<'wait_sync'> {
  target: TargetRef;
  subscription: string;
}

export interface CatchUpStep extends StepBase<'catch_up'> {
  targets: TargetRef[];
  slots: string[];
  /** Denormalized columns (not carried by logical replication), filled once the source is fenced and caught up. */
  fills?: DenormalizeFill[];
}

/**
 * One denormalized column filled at cutover: `table.column` in the target gets
 * `fromTable.fromColumn` of the source row whose `remote` columns equal its `local`
 * ones, or NULL when there is none (as the offline copy's lookup does).
 */
export interface DenormalizeFill {
  target: TargetRef;
  table: string;
  column: string;
  fromTable: string;
  fromColumn: string;
  /** `fromTable` is partitioned: read with its partitions (absent in plans of earlier versions: not partitioned). */
  fromPartitioned?: boolean;
  on: Array<{ local: string; remote: string }>;
}

export interface StopReplicationStep extends StepBase<'stop_replication'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
}

/** After the services were switched: the source's side of a forward replication that stop_replication stopped. */
export interface ReleaseReplicationStep extends StepBase<'release_replication'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
}

/** A table a target publishes back to the source after cutover. */
export interface ReverseTable {
  table: string;
  /** Published via its root (partitions included). */
  partitioned: boolean;
  /** Column list (the source's columns, without generated ones): only when the target has denormalized columns the source lacks; null: every column. */
  columns: string[] | null;
}

/**
 * `start_reverse_replication` (cutover, after the forward replication of the target is
 * gone and before the config switch): the target publishes its moved tables, a slot is
 * made on the target, and the source subscribes into its own (fenced) tables without
 * copying: every write made to the target from then on reaches the source.
 */
export interface StartReverseReplicationStep extends StepBase<'start_reverse_replication'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
  tables: ReverseTable[];
  sourceDatabase: string;
}

/** `fence_target` (rollback after cutover): the target's moved tables reject writes, naming the source database. */
export interface FenceTargetStep extends StepBase<'fence_target'> {
  target: TargetRef;
  /** Every moved table of the target, partitions included. */
  tables: string[];
  sourceDatabase: string;
}

/** `reverse_catch_up`: waits until the source's subscription has applied every write made to the (fenced) target. */
export interface ReverseCatchUpStep extends StepBase<'reverse_catch_up'> {
  target: TargetRef;
  slot: string;
}

/** `sync_sequences_back`: the source's sequences at or past the target's. */
export interface SyncSequencesBackStep extends StepBase<'sync_sequences_back'> {
  target: TargetRef;
  sequences: Array<{ source: QualifiedName; target: QualifiedName }>;
}

/** `unfence_source`: the source's moved tables take writes again; its backup mark is lifted and its retention ends. */
export interface UnfenceSourceStep extends StepBase<'unfence_source'> {
  database: string;
  tables: string[];
}

/** `restore_config`: every config file the split repointed gets its original back (from the journal), then the restart commands run. */
export interface RestoreConfigStep extends StepBase<'restore_config'> {
  restarts: Array<{ service: string; command: string }>;
}

/**
 * `copy_back` (rollback after cutover, once the target is fenced): a moved table that
 * logical replication cannot carry (UNLOGGED, no replica identity: copied at cutover)
 * is copied back whole, leaf by leaf, into the fenced source table, in one source
 * transaction (its rows replaced), on the source's columns.
 */
export interface CopyBackStep extends StepBase<'copy_back'> {
  target: TargetRef;
  /** `readAs`: columns read through an expression (xml as its text). */
  leaves: Array<{ table: string; columns: string[]; readAs?: Record<string, string> }>;
}

/** `stop_reverse_replication`: drops the source's subscription, then the target's slot, publication and replication role. */
export interface StopReverseReplicationStep extends StepBase<'stop_reverse_replication'> {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
}

export type Step =
  | CopyBackStep
  | StartReverseReplicationStep
  | FenceTargetStep
  | ReverseCatchUpStep
  | SyncSequencesBackStep
  | UnfenceSourceStep
  | RestoreConfigStep
  | StopReverseReplicationStep
  | PreflightStep
  | CreateRoleStep
  | CreateDatabaseStep
  | CreateSchemaStep
  | FenceSourceStep
  | CopyDataStep
  | StartServerCopyStep
  | WaitServerCopyStep
  | StopServerCopyStep
  | CreateIndexesStep
  | SyncSequencesStep
  | GrantStep
  | VerifyRowcountsStep
  | RepointConfigStep
  | ScheduleRetentionStep
  | StartReplicationStep
  | WaitSyncStep
  | CatchUpStep
  | StopReplicationStep
  | ReleaseReplicationStep;

export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

export type { Manifest };
