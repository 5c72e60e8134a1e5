/**
 * What `init` proposes, before it becomes YAML. Table and view keys are
 * `schema.name` (catalog keys); partitions never appear: a partitioned table
 * stands for all its partitions.
 */

/** Why a group's tables were put together. */
export type GroupReason =
  /** A table many others reference, with the tables that hang off it. */
  | 'hub'
  /** Tables connected by foreign keys, around no hub. */
  | 'component'
  /** Tables with no foreign keys, sharing a name prefix. */
  | 'prefix'
  /** Tables with no foreign keys and nothing in common: a starting point only. */
  | 'rest';

/**
 * One proposed service. Invariants: `tables` is non-empty, sorted with `center`
 * (when set) first; every table key is in exactly one group or in
 * `Grouping.ignored`; `absorbed` and `byPrefix` are subsets of `tables`.
 */
export interface TableGroup {
  /** `[a-z][a-z0-9_]*`, unique among groups: the base of the service and database names. */
  key: string;
  reason: GroupReason;
  /** The hub (or most referenced table) the group is organised around. */
  center: string | null;
  tables: string[];
  /** The name word most of its tables share (`device` for devices, device_events...), when two or more do. */
  prefix: string | null;
  /** Tables of smaller groups merged in because only this group references them. */
  absorbed: string[];
  /** Tables without foreign keys that joined because their names share the group's prefix. */
  byPrefix: string[];
  /** Views that read only this group's tables: they move with it. */
  views: string[];
}

/** A foreign key that cannot be kept: its two tables end up in different databases. */
export interface CrossForeignKey {
  table: string;
  constraint: string;
  columns: string[];
  references: { table: string; columns: string[] };
  /** Index in `Grouping.groups` of the referencing table's group. */
  fromGroup: number;
  /** Index of the referenced table's group; 'ignored' (left in the source) or 'outside' (a schema not split). */
  toGroup: number | 'ignored' | 'outside';
}

/** A table or view proposed for `ignore`, and why. */
export interface IgnoredRelation {
  key: string;
  kind: 'table' | 'view';
  reason: string;
}

/**
 * The proposed grouping of a catalog's tables. Invariants: groups are ordered by
 * size (largest first, the 'rest' group last), then by the catalog order of their
 * first table; `foreignKeys` holds every foreign key from a grouped table to a
 * table outside its group (another group, an ignored table, a schema not split),
 * in the catalog order of the referencing table.
 */
export interface Grouping {
  groups: TableGroup[];
  ignored: IgnoredRelation[];
  foreignKeys: CrossForeignKey[];
}
