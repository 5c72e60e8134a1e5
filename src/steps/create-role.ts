import type { CreateRoleStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { expand } from '../manifest/expand.js';
import { BadInputError, StepFailedError } from '../errors.js';
import { roleOrigin, roleRefusal, useExistingRole } from './existing-role.js';
import { ownerMembershipSql } from './owner-membership.js';
import { quietStatementLog } from '../pg/quiet-log.js';
import { scramSha256Verifier } from '../pg/scram-verifier.js';
import { roleOid, systemIdentifier } from '../pg/server-identity.js';

function roleIdentity(systemIdentifier: string | null, oid: number): Record<string, unknown> {
  return systemIdentifier === null ? { oid } : { systemIdentifier, oid };
}

/** The statements, with the password left as written (`${VAR}`): never expanded in a plan. */
export function createRoleSql(role: string, password: string | null): string[] {
  const sql = [
    `DO $cps$ BEGIN CREATE ROLE ${ident(role)} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $cps$`,
  ];
  if (password !== null) sql.push(`ALTER ROLE ${ident(role)} LOGIN PASSWORD ${password.startsWith('${') ? password : '***'}`);
  return sql;
}

export const createRole: StepHandler<'create_role'> = {
  render: (step) => (step.existing ? step.sql : [...step.sql, ...ownerMembershipSql(step.role)]),
  async run(ctx, step: CreateRoleStep) {
    if (step.existing) {
      await useExistingRole(ctx, step);
      return { detail: { existing: true } };
    }
    const origin = await roleOrigin(ctx, step.server, step.role);
    const refusal = roleRefusal(step, origin);
    if (refusal) throw new StepFailedError(step.id, refusal);
    const pool = ctx.pools.pool(step.server);
    const admin = await pool.connect();
    let sysid: string | null;
    let existed: number | null;
    try {
      sysid = await systemIdentifier(admin);
      existed = await roleOid(admin, step.role);
    } finally {
      admin.release();
    }
    const record = (await ctx.journal.created()).find((o) => o.kind === 'role' && o.server === step.server && o.name === step.role);
    if (existed === null) {
      // Recorded before it exists, so a crash right after CREATE ROLE still lets rollback find it;
      // its OID is recorded once it exists: rollback drops only that role.
      await ctx.journal.recordCreated({ kind: 'role', server: step.server, name: step.role, detail: { pending: true, systemIdentifier: sysid } });
    } else if (record?.detail?.pending === true) {
      // Created by a run that stopped before recording its OID.
      await ctx.journal.recordCreated({ kind: 'role', server: step.server, name: step.role, detail: roleIdentity(sysid, existed) });
    }
    await pool.query(step.sql[0]!);
    if (existed === null) {
      const oid = (await pool.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_roles WHERE rolname = $1`, [step.role])).rows[0]?.oid;
      if (oid !== undefined) await ctx.journal.recordCreated({ kind: 'role', server: step.server, name: step.role, detail: roleIdentity(sysid, Number(oid)) });
    }
    if (step.password !== null) {
      const password = expand(step.password, ctx.env, `role ${step.role} password`);
      if (password === '') throw new BadInputError(`role ${step.role} password: the variable is set but empty, and an empty password is no password`, "set it to the role's password and run apply again");
      // A verifier computed here: the password itself never travels in a statement, and the statement stays
      // out of the server log where the role may say so (a verifier is what an offline guess starts from).
      const quiet = await pool.connect();
      try {
        await quietStatementLog(quiet);
        await quiet.query(`ALTER ROLE ${ident(step.role)} LOGIN PASSWORD ${literal(scramSha256Verifier(password))}`);
      } finally {
        // Its quiet settings are not for the pool's other statements.
        quiet.release(true);
      }
    }
    for (const s of ownerMembershipSql(step.role)) await pool.query(s);
    return {};
  },
};
