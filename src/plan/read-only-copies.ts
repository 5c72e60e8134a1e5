import { rejectWritesFunctionSql } from '../pg/reject-writes.js';
import { ident, literal, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';

/** The trigger that keeps a copied table (`copies`) read-only in the database that copies it. */
export const READ_ONLY_COPY_TRIGGER = 'cloudphone_split_read_only_copy';
/** Where its function lives: a schema of its own, since the steps' marker schema is dropped at the end of apply. */
export const READ_ONLY_COPY_SCHEMA = 'cloudphone_split_copy';

/**
 * A copy (`copies`) is read-only (SPEC §1): each of its tables (a partitioned one's partitions
 * too: a write naming a partition skips the parent's statement triggers) rejects INSERT,
 * UPDATE, DELETE and TRUNCATE, naming the service and database that own the rows, so a
 * write lands where it belongs instead of in a copy that then silently differs. Made after
 * the copy's rows are in (with its other triggers); an ordinary (ORIGIN) trigger, so the
 * logical replication that keeps an online copy current still writes to it.
 */
const FN = `${ident(READ_ONLY_COPY_SCHEMA)}."read_only_copy"`;

/** The function the triggers call, made once per database that copies tables (its create_schema step): steps running at once never race to make it. */
export function readOnlyCopyFunctionSql(): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${ident(READ_ONLY_COPY_SCHEMA)}`,
    rejectWritesFunctionSql(
      FN,
      'copy',
      'table %I.%I is a read-only copy: its rows belong to service %s, in database %s; write there',
      'the copy was made by cloudphone-split (copies: in the manifest)',
    ),
  ];
}

/** The triggers of one copied table (and its partitions), naming where its rows are written. */
export function readOnlyCopyTriggerSql(tables: readonly string[], owner: { service: string; database: string } | null, source: string): string[] {
  const where = owner ? [owner.service, owner.database] : ['(none: it stays in the source)', source];
  return tables.flatMap((k) => {
    const t = qname(parseKey(k));
    return [
      `DROP TRIGGER IF EXISTS ${ident(READ_ONLY_COPY_TRIGGER)} ON ${t}`,
      `CREATE TRIGGER ${ident(READ_ONLY_COPY_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION ${FN}(${literal(where[0]!)}, ${literal(where[1]!)})`,
    ];
  });
}
