import type { SequenceMovedEarlier } from '../waves/earlier-waves.js';
import type { Catalog } from '../catalog/model.js';
import type { ConfigEdit } from './model.js';
import type { Manifest, ServiceSpec } from '../manifest/model.js';
import type { KeyRange } from '../catalog/key-ranges.js';
import type { SplitPolicy } from './copy-ranges.js';
import type { MovedTable } from '../waves/moved-table.js';

/**
 * What the planner needs, already resolved: the manifest's globs expanded to
 * table keys against the catalog, denormalized columns bound to their join.
 * Pure data: building a plan from it does no I/O.
 */
export interface PlanInput {
  manifest: Manifest;
  manifestText: string;
  manifestPath: string;
  catalog: Catalog;
  services: ResolvedServiceInput[];
  /** Table keys deliberately left in the source. */
  ignored: string[];
  warnings: string[];
  /** Config edits computed from the files at plan time, per service name. */
  configEdits: Record<string, ConfigEdit[]>;
  /** Integer primary-key ranges of the large tables, read at plan time (absent with `plan --schema`). */
  keyRanges?: Record<string, KeyRange>;
  /**
   * Roles that own or hold privileges on each source table (readTableGrantees), read at
   * plan time; absent with `plan --schema`.
   */
  tableGrantees?: Record<string, string[]>;
  /**
   * The owner of each object of the source that is not a superuser (readObjectOwners), read
   * at plan time; absent with `plan --schema`. A service without a role keeps them.
   */
  sourceOwners?: Record<string, string>;
  /**
   * Roles that exist on each target server other than the source's, read at plan time
   * (null: the server could not be asked, as with `plan --schema`). The source's server
   * has every role the source's privileges name.
   */
  targetRoles?: Record<string, string[] | null>;
  /** When a copy is split into key ranges; default DEFAULT_SPLIT. */
  split?: SplitPolicy;
  /** Tables earlier splits of the source moved (SPEC §7); absent: none. */
  movedEarlier?: MovedTable[];
  /** Sequences earlier splits of the same source carried into their databases (waves/earlier-waves.ts). */
  sequencesMovedEarlier?: SequenceMovedEarlier[];
}

export interface ResolvedServiceInput {
  spec: ServiceSpec;
  /** Owned table keys (partitioned parents; partitions are found in the catalog). */
  tables: string[];
  copies: string[];
  views: string[];
  /** Keys of functions, sequences and types placed by name (`objects:`); absent means none. */
  objects?: string[];
  denormalize: DenormalizeInput[];
}

export interface DenormalizeInput {
  /** Key of the service's table that gets the column. */
  table: string;
  column: string;
  /** Key of the source table and the column read from it. */
  fromTable: string;
  fromColumn: string;
  type: string;
  /** local column ↔ referenced column, paired. */
  on: Array<{ local: string; remote: string }>;
}
