import type { CreateRoleStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { expand } from '../manifest/expand.js';
import { StepFailedError } from '../errors.js';
import { roleOrigin, roleRefusal, useExistingRole } from './existing-role.js';
import { ownerMembershipSql } from './owner-membership.js';
import { scramSha256Verifier } from '../pg/scram-verifier.js';

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
    const pool = ctx.pools.pool(step.server);
    const origin = await roleOrigin(ctx, step.server, step.role);
    const refusal = roleRefusal(step, origin);
    if (refusal) throw new StepFailedError(step.id, refusal);
    // Recorded before it exists, so a crash right after CREATE ROLE still lets rollback find it.
    if (!origin.exists) await ctx.journal.recordCreated({ kind: 'role', server: step.server, name: step.role });
    await pool.query(step.sql[0]!);
    if (step.password !== null) {
      const password = expand(step.password, ctx.env, `role ${step.role} password`);
      // A verifier computed here: the password itself never travels in a statement.
      await pool.query(`ALTER ROLE ${ident(step.role)} LOGIN PASSWORD ${literal(scramSha256Verifier(password))}`);
    }
    for (const s of ownerMembershipSql(step.role)) await pool.query(s);
    return {};
  },
};
