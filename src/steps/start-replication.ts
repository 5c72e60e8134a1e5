import { serverOf } from '../conn/connection.js';
import type { StartReplicationStep } from '../plan/model.js';
import type { PgClient, StepContext, StepHandler } from './handler.js';
import { ident } from '../pg/quote.js';
import { quietStatementLog } from '../pg/quiet-log.js';
import { serverToServerConnection } from '../conn/libpq.js';
import { scrubber } from '../secrets/scrubber.js';
import { ensureReplicationRole, replicationRoleName } from '../online/replication-role.js';
import { RUN_AS_OWNER_MIN_VERSION, SETUP_TIMEOUT, createPublicationSql, createSlotSql, createSubscriptionSql, type PublishedTable } from '../online/replication-sql.js';

/** The publication's tables: a root that is not among the leaves is a partitioned table. */
export function publishedTables(step: StartReplicationStep): PublishedTable[] {
  return step.tables.map((key) => ({ key, partitioned: step.leaves ? !step.leaves.some((l) => l.table === key) : false }));
}

function timeoutHint(err: unknown, what: string): Error {
  const e = err as { code?: string; message?: string };
  if (e.code === '57014') {
    return new Error(
      `${what} waited longer than ${SETUP_TIMEOUT}: a transaction running on the source server keeps it waiting ` +
        '(see pg_stat_activity for old xact_start); end it, then rerun apply',
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * CREATE SUBSCRIPTION failing because the *target server* could not connect to the
 * source (its pg_hba, a firewall, DNS from the target's host): SQLSTATE 08xxx, which
 * would otherwise read as this tool's own connection lost ("rerun to resume"), though a
 * rerun fails the same way until the path is opened. Null for any other error.
 */
export function publisherUnreachable(err: unknown, at: { ctx: StepContext; step: StartReplicationStep; role: string }): Error | null {
  const e = err as { code?: string; message?: string };
  if (!e.code?.startsWith('08') || !/could not connect to the publisher/i.test(e.message ?? '')) return null;
  const { ctx, step, role } = at;
  const target = step.target.server === 'source' ? 'the source server itself' : `server "${step.target.server}" (${serverOf(ctx.pools.serverUrl(step.target.server))})`;
  return new Error(
    `${target} could not connect to the source (${serverOf(ctx.pools.serverUrl('source'))}) for subscription ${step.subscription}: ${e.message}. ` +
      `A subscription connects from the target server's host, as role ${role}, to database ${ctx.plan.source.database}: allow that in the source's pg_hba.conf ` +
      `(e.g. host ${ctx.plan.source.database} ${role} <target host address> scram-sha-256) and the network path, then rerun the command; ` +
      `until then the source keeps replication slot ${step.slot} and publication ${step.publication} (a rerun uses them; rollback drops them)`,
    { cause: err },
  );
}

async function sourceSide(ctx: StepContext, step: StartReplicationStep, created: string[]): Promise<void> {
  const src = await ctx.pools.client('source');
  try {
    await src.query(`SET statement_timeout = '${SETUP_TIMEOUT}'`);
    const pub = await src.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [step.publication]);
    if (!pub.rowCount) {
      await src.query(createPublicationSql(step.publication, publishedTables(step)));
      created.push('publication');
    }
    // After the publication: decoding reads it as of the slot's start.
    const slot = await src.query<{ database: string | null }>(`SELECT database FROM pg_replication_slots WHERE slot_name = $1`, [step.slot]);
    if (!slot.rows[0]) {
      await src.query(createSlotSql(step.slot)).catch((err: unknown) => {
        throw timeoutHint(err, `creating the replication slot ${step.slot}`);
      });
      created.push('slot');
    } else if (slot.rows[0].database !== ctx.plan.source.database) {
      throw new Error(`a replication slot named ${step.slot} exists for database ${slot.rows[0].database ?? '(none)'}, not ${ctx.plan.source.database}: drop it or rename the split`);
    }
  } finally {
    await src.end();
  }
}

/** The subscription's own role on the source (see replication-role.ts); its password is a secret of the run. */
async function replicationRole(ctx: StepContext, step: StartReplicationStep): Promise<string> {
  const src = await ctx.pools.client('source');
  try {
    const password = await ensureReplicationRole(src, step.publication, ctx.plan.source.database, step.tables);
    scrubber.add(password);
    return password;
  } finally {
    await src.end();
  }
}

async function subscriptionOf(client: PgClient, name: string): Promise<{ enabled: boolean } | undefined> {
  const r = await client.query<{ enabled: boolean }>(
    `SELECT subenabled AS enabled FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  return r.rows[0];
}

/**
 * `start_replication`: on the source, the publication of the service's tables (an
 * explicit list; partitioned tables via their root) and its logical slot, created
 * apart so that a target on the source's own server does not hang; on the target,
 * the subscription using that slot, which copies every table, then streams changes.
 * Each object is recorded in the journal before it is created (rollback drops them)
 * and created only when missing, so the step can run again after a crash.
 */
export const startReplication: StepHandler<'start_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StartReplicationStep) {
    const database = ctx.plan.source.database;
    const role = replicationRoleName(step.publication);
    await ctx.journal.recordCreated({ kind: 'publication', server: 'source', name: step.publication, detail: { database, role } });
    await ctx.journal.recordCreated({ kind: 'slot', server: 'source', name: step.slot, detail: { database } });
    await ctx.journal.recordCreated({
      kind: 'subscription',
      server: step.target.server,
      name: step.subscription,
      detail: { database: step.target.database, slot: step.slot, publication: step.publication },
    });
    const created: string[] = [];
    await sourceSide(ctx, step, created);
    const dst = await ctx.pools.client(step.target.server, step.target.database);
    try {
      await dst.query(`SET statement_timeout = '${SETUP_TIMEOUT}'`);
      const sub = await subscriptionOf(dst, step.subscription);
      if (!sub) {
        const password = await replicationRole(ctx, step);
        const connection = serverToServerConnection(ctx.pools.serverUrl('source'), role, password);
        await quietStatementLog(dst);
        const v = await dst.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
        const runAsOwner = (v.rows[0]?.v ?? 0) >= RUN_AS_OWNER_MIN_VERSION;
        await dst.query(createSubscriptionSql(step.subscription, connection, step.publication, step.slot, runAsOwner)).catch((err: unknown) => {
          throw publisherUnreachable(err, { ctx, step, role }) ?? timeoutHint(err, `creating the subscription ${step.subscription}`);
        });
        created.push('subscription');
      } else if (!sub.enabled) {
        await dst.query(`ALTER SUBSCRIPTION ${ident(step.subscription)} ENABLE`);
      }
    } finally {
      await dst.end();
    }
    return { detail: { created, tables: step.tables.length } };
  },
};
