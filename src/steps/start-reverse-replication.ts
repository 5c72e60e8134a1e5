import type { StartReverseReplicationStep } from '../plan/model.js';
import type { PgClient, StepContext, StepHandler } from './handler.js';
import { ident } from '../pg/quote.js';
import { withDatabase } from '../conn/connection.js';
import { serverToServerConnection } from '../conn/libpq.js';
import { scrubber } from '../secrets/scrubber.js';
import { ensureReplicationRole, replicationRoleName } from '../online/replication-role.js';
import { SETUP_TIMEOUT, createSlotSql } from '../online/replication-sql.js';
import { COLUMN_LIST_MIN_VERSION, createReversePublicationSql, createReverseSubscriptionSql, needsColumnLists } from '../online/reverse-sql.js';
import { quietStatementLog } from './start-replication.js';

/** The refusal when the target's server cannot publish column lists. */
export function columnListRefusal(step: Pick<StartReverseReplicationStep, 'target' | 'tables'>, version: number): string | null {
  if (version >= COLUMN_LIST_MIN_VERSION || !needsColumnLists(step.tables)) return null;
  const tables = step.tables.filter((t) => t.columns !== null).map((t) => t.table);
  return (
    `reverse replication of ${step.target.database} (server ${step.target.server}, PostgreSQL ${Math.floor(version / 10000)}) needs PostgreSQL 15 or later there: ` +
    `${tables.join(', ')} hold denormalized columns the source lacks, and only a publication with column lists (15+) leaves them out`
  );
}

/** Publication and slot on the target; with `role`, the replication role too (a new password: only when the subscription is to be made). */
async function publisherSide(ctx: StepContext, step: StartReverseReplicationStep, created: string[], role: boolean): Promise<string | null> {
  const dst = await ctx.pools.client(step.target.server, step.target.database);
  try {
    await dst.query(`SET statement_timeout = '${SETUP_TIMEOUT}'`);
    const v = await dst.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    const refusal = columnListRefusal(step, v.rows[0]!.v);
    if (refusal) throw new Error(`${refusal}; upgrade that server, or run cutover with a plan without denormalized columns there`);
    const pub = await dst.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [step.publication]);
    if (!pub.rowCount) {
      await dst.query(createReversePublicationSql(step.publication, step.tables));
      created.push('publication');
    }
    const slot = await dst.query<{ database: string | null }>(`SELECT database FROM pg_replication_slots WHERE slot_name = $1`, [step.slot]);
    if (!slot.rows[0]) {
      await dst.query(createSlotSql(step.slot));
      created.push('slot');
    } else if (slot.rows[0].database !== step.target.database) {
      throw new Error(`a replication slot named ${step.slot} exists for database ${slot.rows[0].database ?? '(none)'}, not ${step.target.database}: drop it or rename the split`);
    }
    if (!role) return null;
    const password = await ensureReplicationRole(dst, step.publication, step.target.database, step.tables.map((t) => t.table));
    scrubber.add(password);
    return password;
  } finally {
    await dst.end();
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
 * `start_reverse_replication` (cutover, once the target's forward replication is gone
 * and before its config is switched): on the target, a publication of its moved tables
 * (column lists leave out denormalized columns), a logical slot (every write made to
 * the target from now on is kept for the source) and a replication role; on the
 * source, a subscription into the original, fenced tables, without an initial copy.
 * Its apply worker writes through the source's fence (fence-source.ts); no one else does.
 * Each object is recorded in the journal before it is made and made only when missing.
 */
export const startReverseReplication: StepHandler<'start_reverse_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StartReverseReplicationStep) {
    const role = replicationRoleName(step.publication);
    await ctx.journal.recordCreated({ kind: 'publication', server: step.target.server, name: step.publication, detail: { database: step.target.database, role, reverse: true } });
    await ctx.journal.recordCreated({ kind: 'slot', server: step.target.server, name: step.slot, detail: { database: step.target.database, reverse: true } });
    await ctx.journal.recordCreated({
      kind: 'subscription',
      server: 'source',
      name: step.subscription,
      detail: { database: step.sourceDatabase, slot: step.slot, publication: step.publication, reverse: true },
    });
    const created: string[] = [];
    const src = await ctx.pools.client('source');
    try {
      await src.query(`SET statement_timeout = '${SETUP_TIMEOUT}'`);
      // The source may be a read-only backup already (a resumed cutover after schedule_retention).
      await src.query('SET default_transaction_read_only = off');
      const sub = await subscriptionOf(src, step.subscription);
      // The publisher side first: the slot must exist before the subscription uses it.
      const password = await publisherSide(ctx, step, created, !sub);
      if (!sub && password !== null) {
        const connection = serverToServerConnection(withDatabase(ctx.pools.serverUrl(step.target.server), step.target.database), role, password);
        await quietStatementLog(src);
        await src.query(createReverseSubscriptionSql(step.subscription, connection, step.publication, step.slot));
        created.push('subscription');
      } else if (sub && !sub.enabled) {
        await src.query(`ALTER SUBSCRIPTION ${ident(step.subscription)} ENABLE`);
      }
    } finally {
      await src.end();
    }
    return { detail: { created, tables: step.tables.length } };
  },
};
