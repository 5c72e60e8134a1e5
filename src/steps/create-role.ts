import type { CreateRoleStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { expand } from '../manifest/expand.js';
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
  render: (step) => step.sql,
  async run(ctx, step: CreateRoleStep) {
    const pool = ctx.pools.pool(step.server);
    const existed = await pool.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [step.role]);
    if ((existed.rowCount ?? 0) === 0) {
      // Recorded before it exists, so a crash right after CREATE ROLE still lets rollback find it.
      await ctx.journal.recordCreated({ kind: 'role', server: step.server, name: step.role });
    } else {
      const ours = (await ctx.journal.created()).some((o) => o.kind === 'role' && o.server === step.server && o.name === step.role);
      if (!ours) {
        ctx.progress.emit({ type: 'log', level: 'warn', message: `role ${step.role} already exists: using it as it is (rollback will not drop it)` });
      }
    }
    await pool.query(step.sql[0]!);
    if (step.password !== null) {
      const password = expand(step.password, ctx.env, `role ${step.role} password`);
      // A verifier computed here: the password itself never travels in a statement.
      await pool.query(`ALTER ROLE ${ident(step.role)} LOGIN PASSWORD ${literal(scramSha256Verifier(password))}`);
    }
    return {};
  },
};
