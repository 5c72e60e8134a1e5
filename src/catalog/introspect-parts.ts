import type pg from 'pg';
import { commentSql, rows } from './introspect-util.js';

/** Column names of an attnum array, in array order (never sorted: FK pairing depends on it). */
const names = (arr: string, rel: string): string =>
  `(SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(${arr}) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.attnum)`;

/** One pg_constraint row of a selected table; `columns`/`ref_columns` in key order (never sorted). */
export interface ConstraintRow {
  relid: number;
  name: string;
  contype: 'p' | 'u' | 'x' | 'c' | 'f' | 'n';
  def: string;
  validated: boolean;
  deferrable: boolean;
  deferred: boolean;
  islocal: boolean;
  has_parent: boolean;
  noinherit: boolean;
  columns: string[] | null;
  ref_schema: string | null;
  ref_name: string | null;
  ref_columns: string[] | null;
  index_name: string | null;
  index_columns: string[] | null;
  index_key_count: number | null;
  index_options: string[] | null;
  nulls_not_distinct: boolean;
  period: boolean;
  comment: string | null;
}

export async function readConstraints(client: pg.ClientBase, relids: number[], version: number): Promise<ConstraintRow[]> {
  const types = version >= 180000 ? `'c', 'f', 'p', 'u', 'x', 'n'` : `'c', 'f', 'p', 'u', 'x'`;
  return rows<ConstraintRow>(
    client,
    `SELECT co.conrelid AS relid, co.conname::text AS name, co.contype::text AS contype,
        pg_get_constraintdef(co.oid) AS def, co.convalidated AS validated,
        co.condeferrable AS deferrable, co.condeferred AS deferred, co.conislocal AS islocal,
        co.conparentid <> 0 AS has_parent, co.connoinherit AS noinherit,
        ${names('co.conkey', 'co.conrelid')} AS columns,
        fn.nspname::text AS ref_schema, fc.relname::text AS ref_name,
        ${names('co.confkey', 'co.confrelid')} AS ref_columns,
        ic.relname::text AS index_name,
        ${names('i.indkey::int2[]', 'i.indrelid')} AS index_columns,
        i.indnkeyatts::int AS index_key_count,
        ic.reloptions::text[] AS index_options,
        ${version >= 150000 ? 'coalesce(i.indnullsnotdistinct, false)' : 'false'} AS nulls_not_distinct,
        ${version >= 180000 ? 'co.conperiod' : 'false'} AS period,
        ${commentSql('pg_constraint', 'co.oid')} AS comment
     FROM pg_constraint co
     LEFT JOIN pg_class fc ON fc.oid = co.confrelid AND co.contype = 'f'
     LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
     LEFT JOIN pg_class ic ON ic.oid = co.conindid AND co.contype IN ('p', 'u', 'x')
     LEFT JOIN pg_index i ON i.indexrelid = ic.oid
     WHERE co.conrelid = ANY($1::oid[]) AND co.contype IN (${types})`,
    [relids],
  );
}

/** One index of a selected table (valid or of a partitioned table, and ready); `parent_*` when attached to a parent index. */
export interface IndexRow {
  relid: number;
  name: string;
  def: string;
  constraint_name: string | null;
  unique: boolean;
  primary: boolean;
  clustered: boolean;
  replident: boolean;
  parent_schema: string | null;
  parent_name: string | null;
  comment: string | null;
  /** Columns with a statistics target set: [[attnum, target], …], or null. */
  stats: Array<[number, number]> | null;
}

export async function readIndexes(client: pg.ClientBase, relids: number[]): Promise<IndexRow[]> {
  return rows<IndexRow>(
    client,
    `SELECT i.indrelid AS relid, ic.relname::text AS name, pg_get_indexdef(i.indexrelid) AS def,
        co.conname::text AS constraint_name, i.indisunique AS unique, i.indisprimary AS primary,
        i.indisclustered AS clustered, i.indisreplident AS replident,
        pn.nspname::text AS parent_schema, pc.relname::text AS parent_name,
        ${commentSql('pg_class', 'i.indexrelid')} AS comment,
        -- attstattarget: -1 for the default before 17, NULL from 17.
        (SELECT json_agg(json_build_array(a.attnum, a.attstattarget) ORDER BY a.attnum) FROM pg_attribute a
          WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0) AS stats
     FROM pg_index i
     JOIN pg_class ic ON ic.oid = i.indexrelid
     JOIN pg_class tc ON tc.oid = i.indrelid
     LEFT JOIN pg_constraint co ON co.conrelid = i.indrelid AND co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x')
     LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
     LEFT JOIN pg_class pc ON pc.oid = inh.inhparent
     LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
     WHERE i.indrelid = ANY($1::oid[]) AND i.indisready AND (i.indisvalid OR tc.relkind = 'p')`,
    [relids],
  );
}

/** One user trigger; `inherited` marks a partition's clone (listed only when its enabled state differs). */
export interface TriggerRow {
  relid: number;
  name: string;
  def: string;
  enabled: string;
  inherited: boolean;
  fschema: string;
  fname: string;
  fargs: string;
  comment: string | null;
}

/**
 * User triggers, never the internal ones of foreign keys; a partition's clone of
 * its parent's trigger only when its enabled state differs. Before 15 such clones
 * are marked internal too: they are told apart from foreign key triggers by
 * having no constraint.
 */
export async function readTriggers(client: pg.ClientBase, relids: number[]): Promise<TriggerRow[]> {
  return rows<TriggerRow>(
    client,
    `SELECT t.tgrelid AS relid, t.tgname::text AS name, pg_get_triggerdef(t.oid, false) AS def,
        t.tgenabled::text AS enabled, t.tgparentid <> 0 AS inherited,
        fn.nspname::text AS fschema, p.proname::text AS fname,
        pg_get_function_identity_arguments(p.oid) AS fargs,
        ${commentSql('pg_trigger', 't.oid')} AS comment
     FROM pg_trigger t
     JOIN pg_proc p ON p.oid = t.tgfoid
     JOIN pg_namespace fn ON fn.oid = p.pronamespace
     LEFT JOIN pg_trigger pt ON pt.oid = t.tgparentid
     WHERE t.tgrelid = ANY($1::oid[])
       AND ((NOT t.tgisinternal AND t.tgparentid = 0)
         OR (t.tgparentid <> 0 AND (NOT t.tgisinternal OR t.tgconstraint = 0) AND pt.tgenabled IS DISTINCT FROM t.tgenabled))`,
    [relids],
  );
}

/** One row-level-security policy; `roles` holds 'public' for PUBLIC. */
export interface PolicyRow {
  relid: number;
  name: string;
  cmd: string;
  permissive: boolean;
  roles: string[];
  qual: string | null;
  withcheck: string | null;
  comment: string | null;
}

export async function readPolicies(client: pg.ClientBase, relids: number[]): Promise<PolicyRow[]> {
  return rows<PolicyRow>(
    client,
    `SELECT p.polrelid AS relid, p.polname::text AS name, p.polcmd::text AS cmd, p.polpermissive AS permissive,
        CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
             ELSE (SELECT array_agg(r.rolname::text ORDER BY r.rolname::text) FROM pg_roles r WHERE r.oid = ANY(p.polroles)) END AS roles,
        pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS withcheck,
        ${commentSql('pg_policy', 'p.oid')} AS comment
     FROM pg_policy p
     WHERE p.polrelid = ANY($1::oid[])`,
    [relids],
  );
}

/** One rule of a table (views' `_RETURN` rules are their definitions, read elsewhere). */
export interface RuleRow {
  relid: number;
  name: string;
  def: string;
  enabled: string;
  comment: string | null;
  refs: string[];
}

export async function readRules(client: pg.ClientBase, relids: number[]): Promise<RuleRow[]> {
  return rows<RuleRow>(
    client,
    `SELECT r.ev_class AS relid, r.rulename::text AS name, pg_get_ruledef(r.oid, false) AS def, r.ev_enabled::text AS enabled,
        ${commentSql('pg_rewrite', 'r.oid')} AS comment,
        ARRAY(SELECT DISTINCT n.nspname || '.' || c.relname FROM pg_depend d
                JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
               ORDER BY 1)::text[] AS refs
     FROM pg_rewrite r
     WHERE r.ev_class = ANY($1::oid[]) AND r.rulename <> '_RETURN'`,
    [relids],
  );
}

/** One extended statistics object on a table. */
export interface StatisticsRow {
  relid: number;
  schema: string;
  name: string;
  def: string;
  target: number | null;
  comment: string | null;
}

export async function readStatistics(client: pg.ClientBase, relids: number[]): Promise<StatisticsRow[]> {
  return rows<StatisticsRow>(
    client,
    // stxstattarget: -1 for the default before 17, NULL from 17.
    `SELECT s.stxrelid AS relid, n.nspname::text AS schema, s.stxname::text AS name, pg_get_statisticsobjdef(s.oid) AS def,
        NULLIF(s.stxstattarget::int, -1) AS target,
        ${commentSql('pg_statistic_ext', 's.oid')} AS comment
     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
     WHERE s.stxrelid = ANY($1::oid[])`,
    [relids],
  );
}
