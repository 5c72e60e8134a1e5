import type pg from 'pg';

/**
 * The facts that say which object a drop would hit: the cluster (its system
 * identifier, which no URL edit can fake: it is set by initdb and kept by every
 * restart) and the object's OID in it (a database or role dropped and created again
 * under the same name gets another one).
 */
export interface ObjectIdentity {
  /** `pg_control_system().system_identifier`, as a decimal string. */
  systemIdentifier: string;
  oid: number;
}

/** The system identifier of the connected cluster; null when the role may not read it. */
export async function systemIdentifier(client: pg.ClientBase): Promise<string | null> {
  try {
    const r = await client.query<{ id: string }>(`SELECT system_identifier::text AS id FROM pg_control_system()`);
    return r.rows[0]?.id ?? null;
  } catch {
    return null;
  }
}

export async function databaseOid(client: pg.ClientBase, name: string): Promise<number | null> {
  const r = await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_database WHERE datname = $1`, [name]);
  return r.rows[0] ? Number(r.rows[0].oid) : null;
}

export async function roleOid(client: pg.ClientBase, name: string): Promise<number | null> {
  const r = await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_roles WHERE rolname = $1`, [name]);
  return r.rows[0] ? Number(r.rows[0].oid) : null;
}

/** The identity recorded in a created object's journal detail; null when an earlier version did not record it. */
export function recordedIdentity(detail: Record<string, unknown> | undefined): ObjectIdentity | null {
  const id = detail?.systemIdentifier;
  const oid = detail?.oid;
  if (typeof id !== 'string' || typeof oid !== 'number') return null;
  return { systemIdentifier: id, oid };
}

/**
 * Why the object `name` found on the connected cluster is not the one recorded
 * (null: it is). `current` is what the cluster says now; an absent object is
 * handled by the caller.
 */
export function identityMismatch(
  what: 'database' | 'role',
  name: string,
  recorded: ObjectIdentity | null,
  current: { systemIdentifier: string | null; oid: number },
): string | null {
  if (!recorded) {
    return `the journal holds no OID and server identity for ${what} ${name} (recorded by an earlier version, or its creation never finished), so it cannot be proved to be the one this split created`;
  }
  if (current.systemIdentifier === null) {
    return `cannot read the server's system identifier (pg_control_system()) to prove it is the server where ${what} ${name} was created`;
  }
  if (current.systemIdentifier !== recorded.systemIdentifier) {
    return `the server is not the one where the split created ${what} ${name} (system identifier ${recorded.systemIdentifier} then, ${current.systemIdentifier} now: was the server's URL in the manifest changed?)`;
  }
  if (current.oid !== recorded.oid) {
    return `${what} ${name} is not the one this split created (OID ${recorded.oid} then, ${current.oid} now): it was dropped and created again by someone else`;
  }
  return null;
}
