import { ident, literal } from '../pg/quote.js';
import { StepFailedError } from '../errors.js';
import type { CreateRoleStep } from '../plan/model.js';
import type { StepContext } from './handler.js';

/** What `create_role` runs for `role.existing: true`: it only checks that the role is there. */
export function existingRoleSql(role: string): string[] {
  return [`-- role.existing: true: ${role} is used as it is; its password is never changed`, `SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}`];
}

/** Whether `role` exists on the step's server, and whether this split created it (from the journal). */
export async function roleOrigin(ctx: StepContext, server: string, role: string): Promise<{ exists: boolean; ours: boolean }> {
  const exists = ((await ctx.pools.pool(server).query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role])).rowCount ?? 0) > 0;
  const ours = (await ctx.journal.created()).some((o) => o.kind === 'role' && o.server === server && o.name === role);
  return { exists, ours };
}

/** Why a role cannot be used as the step says, or null: checked by preflight and again by create_role before it acts. */
export function roleRefusal(step: Pick<CreateRoleStep, 'role' | 'server' | 'existing' | 'service'>, origin: { exists: boolean; ours: boolean }): string | null {
  const where = `services.${step.service ?? '?'}.role`;
  if (step.existing && !origin.exists) {
    return `role ${step.role} does not exist on server ${step.server}, but ${where} says existing: true; create it first, or remove existing: true to let the split create it`;
  }
  if (!step.existing && origin.exists && !origin.ours) {
    return `role ${step.role} already exists on server ${step.server} and was not created by this split: refusing to adopt it (its password would be changed). Write existing: true under ${where} to use it as it is (its password is then never changed), or choose another role name ` +
      `(a role that a rollback after an online cutover kept, with its database: DROP ROLE ${ident(step.role)} once that database is dropped)`;
  }
  return null;
}

/** The `role.existing` branch of create_role: checks, changes nothing. */
export async function useExistingRole(ctx: StepContext, step: CreateRoleStep): Promise<void> {
  const refusal = roleRefusal(step, await roleOrigin(ctx, step.server, step.role));
  if (refusal) throw new StepFailedError(step.id, refusal);
}
