import type { Table } from '../catalog/model.js';
import { hasReplicaIdentity } from '../online/identity-keys.js';
import { xmlColumns } from '../plan/xml-columns.js';

/** What the planner knows of one leaf table the relay would copy. */
export interface CopyCandidate {
  table: Table;
  /** Moved by its service (fenced), not a `copies` entry. */
  moved: boolean;
  /** Denormalized columns the copy fills. */
  extraColumns: string[];
}

/**
 * Why a target server cannot pull this table from the source with logical
 * replication's table synchronisation (`copy: server`), so that the relay copies it;
 * null when it can. `sourceVersion` is the source's `server_version_num`. Pure.
 */
export function serverCopyRefusal(c: CopyCandidate, sourceVersion: number): string | null {
  const t = c.table;
  if (!c.moved) return 'a copy of another service\'s table, which may still be written while it is copied (its owner moves in another run, or stays): only the run\'s snapshot gives it one consistent point';
  if (c.extraColumns.length > 0) return `its denormalized column${c.extraColumns.length === 1 ? '' : 's'} ${c.extraColumns.join(', ')} are filled by this tool, not by the source`;
  if (t.persistence === 'u') return 'UNLOGGED tables cannot be published';
  if (t.kind !== 'r') return 'only plain tables and partitions can be published';
  if (sourceVersion < 180000 && t.columns.some((c) => c.generated)) {
    return 'it has generated columns, which table synchronisation from PostgreSQL before 18 does not carry the same way on every version';
  }
  const xml = xmlColumns(t).map((col) => col.name);
  if (xml.length > 0) {
    return `table synchronisation sends its xml column${xml.length === 1 ? '' : 's'} ${xml.join(', ')} through PostgreSQL's xml output, which drops a leading <?xml ...?> declaration; the relay copies their stored text`;
  }
  if (!hasReplicaIdentity(t)) {
    return 'it has no primary key or replica identity: while it is published, a write to it would fail with a replication error instead of the fence\'s';
  }
  return null;
}
