import type pg from 'pg';
import type { CreatedObject } from '../steps/handler.js';
import { databaseOid, identityMismatch, recordedIdentity, roleOid, systemIdentifier } from '../pg/server-identity.js';
import { maintenanceClient } from '../retention/maintenance-client.js';

/** A created database or role as it is now on the server the manifest names. */
export type IdentityState = { state: 'ours' } | { state: 'absent' } | { state: 'refused'; reason: string };

/**
 * Whether `object` (a database or role the journal records) is, on the server the
 * admin session is connected to, the very object the split created: same cluster
 * (system identifier), same OID. An object that is not there is `absent` only on
 * the recorded cluster: on another one nothing can be concluded.
 */
export async function identityState(admin: pg.ClientBase, object: CreatedObject): Promise<IdentityState> {
  const what = object.kind === 'role' ? 'role' : 'database';
  const recorded = recordedIdentity(object.detail);
  const sysid = await systemIdentifier(admin);
  if (recorded && sysid !== null && sysid !== recorded.systemIdentifier) {
    return { state: 'refused', reason: identityMismatch(what, object.name, recorded, { systemIdentifier: sysid, oid: recorded.oid })! };
  }
  const oid = what === 'role' ? await roleOid(admin, object.name) : await databaseOid(admin, object.name);
  if (oid === null) {
    // Only a record made on this cluster (or a pending one, whose object was never made) proves absence here.
    const pendingHere = object.detail?.pending === true && (object.detail.systemIdentifier === sysid || object.detail.systemIdentifier == null);
    if ((recorded && sysid !== null) || pendingHere) return { state: 'absent' };
    return { state: 'refused', reason: identityMismatch(what, object.name, recorded, { systemIdentifier: sysid, oid: -1 }) ?? 'it cannot be identified' };
  }
  const why = identityMismatch(what, object.name, recorded, { systemIdentifier: sysid, oid });
  return why ? { state: 'refused', reason: why } : { state: 'ours' };
}

/** Every object that cannot be proved to be the split's own, with the reason; nothing is changed. */
export async function identityRefusals(
  servers: Record<string, string>,
  objects: CreatedObject[],
): Promise<Array<{ server: string; name: string; kind: string; reason: string }>> {
  const out: Array<{ server: string; name: string; kind: string; reason: string }> = [];
  const byServer = new Map<string, CreatedObject[]>();
  for (const o of objects) byServer.set(o.server, [...(byServer.get(o.server) ?? []), o]);
  for (const [server, list] of byServer) {
    const url = servers[server];
    if (!url) {
      for (const o of list) out.push({ server, name: o.name, kind: o.kind, reason: `the manifest has no server named "${server}" any more` });
      continue;
    }
    const admin = await maintenanceClient(url, list.filter((o) => o.kind === 'database').map((o) => o.name));
    try {
      for (const o of list) {
        const s = await identityState(admin, o);
        if (s.state === 'refused') out.push({ server, name: o.name, kind: o.kind, reason: s.reason });
      }
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  return out;
}
