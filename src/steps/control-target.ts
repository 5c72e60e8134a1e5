import type { TargetRef } from '../plan/model.js';
import type { StepContext } from './handler.js';
import { systemIdentifier } from '../pg/server-identity.js';

/**
 * The targets that are the control database (the journal's): same cluster, by
 * system identifier, and same database name. Its `grant` step would drop the
 * journal's schema, taking every split's retention rows and config backups with it.
 */
export async function controlTargetProblems(ctx: StepContext, targets: readonly TargetRef[]): Promise<string[]> {
  if (!ctx.journal.controlDatabase) return [];
  const control = await ctx.journal.controlDatabase();
  const problems: string[] = [];
  for (const t of targets) {
    if (t.database !== control.database) continue;
    const client = await ctx.pools.pool(t.server).connect();
    let id: string | null;
    try {
      id = await systemIdentifier(client);
    } finally {
      client.release();
    }
    if (id === null || control.systemIdentifier === null || id === control.systemIdentifier) {
      const how = id === null || control.systemIdentifier === null ? 'it may be (the server identity cannot be read, and the name is the same)' : 'it is';
      problems.push(
        `service ${t.service}: database ${t.database} on server ${t.server} is the control database that holds the journal (${how}); a split can never write to it. Choose another database name for the service.`,
      );
    }
  }
  return problems;
}
