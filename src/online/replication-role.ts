import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { scramSha256Verifier } from '../pg/scram-verifier.js';

/**
 * The role a service's subscription logs in as on the source: one per split and
 * target database, with a random password, REPLICATION (what a walsender connection
 * needs on every supported version), CONNECT on the source database, USAGE on the
 * schemas and SELECT on the published tables only (BYPASSRLS only when a published table
 * has row-level security, or the initial copy would see a filtered table). The admin's
 * credentials never enter a subscription's connection string.
 */
export function replicationRoleName(publication: string): string {
  return `${publication}_r`;
}

/** Set on the role at creation, and checked before it is dropped: proof that the tool made it. */
export function replicationRoleComment(publication: string): string {
  return `cloudphone-split: replication role of publication ${publication}`;
}

function schemasOf(tables: string[]): string[] {
  return [...new Set(tables.map((k) => parseKey(k).schema))];
}

/** The statements, as the plan shows them (the password is made at run time). */
export function replicationRoleSql(publication: string, database: string, tables: string[]): string[] {
  const role = ident(replicationRoleName(publication));
  return [
    `CREATE ROLE ${role} LOGIN REPLICATION PASSWORD '***'  -- a random password, sent as a SCRAM verifier`,
    `COMMENT ON ROLE ${role} IS ${literal(replicationRoleComment(publication))}`,
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${role}`,
    ...schemasOf(tables).map((s) => `GRANT USAGE ON SCHEMA ${ident(s)} TO ${role}`),
    `GRANT SELECT ON TABLE ${tables.map((k) => qname(parseKey(k))).join(', ')} TO ${role}`,
  ];
}

/**
 * Creates the role (or gives it a new password when it is there from an interrupted
 * run) and its grants, on the source database `src` is connected to. Returns the
 * password, for the subscription's connection string only.
 */
export async function ensureReplicationRole(src: pg.ClientBase, publication: string, database: string, tables: string[]): Promise<string> {
  const name = replicationRoleName(publication);
  const role = ident(name);
  const password = randomBytes(24).toString('base64url');
  const rls = await src.query<{ rls: boolean }>(
    `SELECT coalesce(bool_or(relrowsecurity), false) AS rls FROM pg_class WHERE oid = ANY ($1::regclass[])`,
    [tables.map((k) => qname(parseKey(k)))],
  );
  const attributes = `LOGIN REPLICATION${rls.rows[0]?.rls ? ' BYPASSRLS' : ''} PASSWORD ${literal(scramSha256Verifier(password))}`;
  const existing = await src.query<{ comment: string | null }>(
    `SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  if (existing.rows[0] === undefined) {
    // One statement, so one transaction: a run killed between the two would leave a role without the
    // comment that proves it the tool's, and every rerun would refuse it.
    await src.query(`DO $cps$BEGIN CREATE ROLE ${role} ${attributes}; COMMENT ON ROLE ${role} IS ${literal(replicationRoleComment(publication))}; END$cps$`);
  } else if (existing.rows[0].comment === replicationRoleComment(publication)) {
    await src.query(`ALTER ROLE ${role} ${attributes}`);
  } else {
    throw new Error(`a role named ${name} exists and was not made by cloudphone-split for this split: drop or rename it, then rerun apply`);
  }
  // GRANT and REVOKE rewrite the schema's and database's ACL row: two services' steps at once would
  // fail with "tuple concurrently updated", so the tool's ACL changes take turns.
  await withAclLock(src, async () => {
    for (const sql of replicationRoleSql(publication, database, tables).slice(2)) await src.query(sql);
  });
  return password;
}

/** Runs `work` while holding the session advisory lock that orders the tool's GRANTs and REVOKEs on shared catalog rows. */
async function withAclLock(src: pg.ClientBase, work: () => Promise<void>): Promise<void> {
  await src.query(`SELECT pg_advisory_lock(hashtext('cloudphone_split.acl'))`);
  try {
    await work();
  } finally {
    await src.query(`SELECT pg_advisory_unlock(hashtext('cloudphone_split.acl'))`).catch(() => undefined);
  }
}

/**
 * Drops the role after its subscription is gone: only when its comment says the tool
 * made it for this publication (checked now), after revoking what it was granted in the
 * source database (`src`). Returns false when there was no such role.
 */
export async function dropReplicationRole(src: pg.ClientBase, publication: string): Promise<boolean> {
  const name = replicationRoleName(publication);
  const r = await src.query<{ oid: number; comment: string | null }>(
    `SELECT oid::int AS oid, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  const found = r.rows[0];
  if (!found) return false;
  if (found.comment !== replicationRoleComment(publication)) {
    throw new Error(`the role ${name} was not made by cloudphone-split for ${publication} (its comment differs): it was left alone; drop it by hand if it is not needed`);
  }
  const role = ident(name);
  const tables = await src.query<{ t: string }>(
    `SELECT c.oid::regclass::text AS t FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee = $1::oid`,
    [found.oid],
  );
  await withAclLock(src, async () => {
    for (const { t } of tables.rows) await src.query(`REVOKE ALL ON TABLE ${t} FROM ${role}`);
    const schemas = await src.query<{ s: string }>(
      `SELECT n.nspname AS s FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = $1::oid`,
      [found.oid],
    );
    for (const { s } of schemas.rows) await src.query(`REVOKE ALL ON SCHEMA ${ident(s)} FROM ${role}`);
    await src.query(`REVOKE ALL ON DATABASE ${ident((await src.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db)} FROM ${role}`);
    await src.query(`DROP ROLE ${role}`);
  });
  return true;
}
