import type { StartReverseReplicationStep } from '../plan/model.js';
import type { PgClient, StepHandler, StepJournal } from './handler.js';
import type { Pools } from '../pg/pools.js';
import { withClient } from '../online/pooled.js';
import { pause } from '../online/pause.js';
import { ident } from '../pg/quote.js';
import { withDatabase } from '../conn/connection.js';
import { serverToServerConnection } from '../conn/libpq.js';
import { scrubber } from '../secrets/scrubber.js';
import { ensureReplicationRole, replicationRoleName } from '../online/replication-role.js';
import { RUN_AS_OWNER_MIN_VERSION, SETUP_TIMEOUT, createSlotSql } from '../online/replication-sql.js';
import { COLUMN_LIST_MIN_VERSION, createReversePublicationSql, createReverseSubscriptionSql, needsColumnLists } from '../online/reverse-sql.js';
import { quietStatementLog } from '../pg/quiet-log.js';

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
async function publisherSide(pools: Pools, step: StartReverseReplicationStep, created: string[], role: boolean): Promise<string | null> {
  const dst = await pools.client(step.target.server, step.target.database);
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

/** Where the reverse replication of one database stands: what exists of it. */
interface ReverseState {
  subscription: { enabled: boolean } | undefined;
  slot: boolean;
  publication: boolean;
}

async function reverseState(pools: Pools, step: StartReverseReplicationStep): Promise<ReverseState> {
  const [subscription, target] = await Promise.all([
    withClient(pools, 'source', step.sourceDatabase, (c) => subscriptionOf(c, step.subscription)),
    withClient(pools, step.target.server, step.target.database, async (c) => {
      const r = await c.query<{ slot: boolean; publication: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()) AS slot,
                EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2) AS publication`,
        [step.slot, step.publication],
      );
      return r.rows[0]!;
    }),
  ]);
  return { subscription, ...target };
}

/**
 * Makes what is missing of the reverse replication of one database, its subscription
 * left disabled: on the target a publication of its moved tables (column lists leave out
 * denormalized columns), a logical slot and a replication role; on the source a
 * subscription into the original, fenced tables, without an initial copy. Each object
 * is recorded in the journal before it is made and made only when missing. Nothing
 * streams until the handler below enables it, once skipToNow has moved the slot past
 * every change that is not to go back.
 */
export async function ensureReverseObjects(pools: Pools, journal: Pick<StepJournal, 'recordCreated'>, step: StartReverseReplicationStep): Promise<string[]> {
  const role = replicationRoleName(step.publication);
  await journal.recordCreated({ kind: 'publication', server: step.target.server, name: step.publication, detail: { database: step.target.database, role, reverse: true } });
  await journal.recordCreated({ kind: 'slot', server: step.target.server, name: step.slot, detail: { database: step.target.database, reverse: true } });
  await journal.recordCreated({
    kind: 'subscription',
    server: 'source',
    name: step.subscription,
    detail: { database: step.sourceDatabase, slot: step.slot, publication: step.publication, reverse: true },
  });
  const created: string[] = [];
  const src = await pools.client('source', step.sourceDatabase);
  try {
    await src.query(`SET statement_timeout = '${SETUP_TIMEOUT}'`);
    // The source may be a read-only backup already (a resumed cutover after schedule_retention).
    await src.query('SET default_transaction_read_only = off');
    const sub = await subscriptionOf(src, step.subscription);
    // The publisher side first: the slot must exist before the subscription uses it.
    const password = await publisherSide(pools, step, created, !sub);
    if (!sub && password !== null) {
      const connection = serverToServerConnection(withDatabase(pools.serverUrl(step.target.server), step.target.database), role, password);
      await quietStatementLog(src);
      const v = await src.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
      await src.query(createReverseSubscriptionSql(step.subscription, connection, step.publication, step.slot, (v.rows[0]?.v ?? 0) >= RUN_AS_OWNER_MIN_VERSION));
      created.push('subscription');
    }
  } finally {
    await src.end();
  }
  return created;
}

/** How long skipToNow waits for the target's WAL to be flushed up to the position it skips to. */
const FLUSH_WAIT_MS = 10_000;

/**
 * Moves the reverse slot on the target to the target's WAL insert position, read now:
 * every change made there before (the forward subscription's writes, the refill of
 * denormalized columns) is skipped, every change made after is kept for the source.
 * The forward subscription must be gone (its apply worker stopped) and no service
 * repointed yet. A slot cannot be advanced past the flushed WAL, and the forward apply
 * worker commits asynchronously: a synchronous commit of an empty transaction flushes
 * everything before it, and the slot's position is checked to be at or past the one read.
 */
async function skipToNow(pools: Pools, step: StartReverseReplicationStep, signal: AbortSignal): Promise<string> {
  return withClient(pools, step.target.server, step.target.database, async (c) => {
    const lsn = (await c.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`)).rows[0]!.lsn;
    await c.query(`BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT`);
    const until = Date.now() + FLUSH_WAIT_MS;
    for (;;) {
      const r = await c.query<{ at: string; reached: boolean }>(
        `SELECT end_lsn::text AS at, end_lsn >= $2::pg_lsn AS reached
           FROM pg_replication_slot_advance($1, greatest($2::pg_lsn, (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1)))`,
        [step.slot, lsn],
      );
      const at = r.rows[0]!;
      if (at.reached) return at.at;
      if (Date.now() > until || signal.aborted) {
        throw new Error(`the reverse slot ${step.slot} on ${step.target.database} could not be moved to ${lsn} (it stays at ${at.at}): the WAL there is not flushed; rerun cutover`);
      }
      await pause(10, signal);
    }
  });
}

/**
 * `start_reverse_replication` (cutover, once the target's forward replication is gone
 * and before its config is switched): makes what is missing of it (ensureReverseObjects,
 * the subscription disabled), moves the target's reverse slot past every change made
 * there so far, then enables the source's subscription: every write made to the target
 * from now on reaches the source. Its apply worker writes through the source's fence
 * (fence-source.ts); no one else does. An enabled subscription (a rerun) was moved past
 * them by the run that enabled it: it is left as is.
 */
export const startReverseReplication: StepHandler<'start_reverse_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StartReverseReplicationStep) {
    const t0 = Date.now();
    let state = await reverseState(ctx.pools, step);
    let created: string[] = [];
    if (!state.subscription || !state.slot || !state.publication) {
      created = await ensureReverseObjects(ctx.pools, ctx.journal, step);
      state = await reverseState(ctx.pools, step);
    }
    const prepared = created.length === 0;
    if (state.subscription?.enabled) return { detail: { created, tables: step.tables.length, prepared, totalMs: Date.now() - t0 } };
    const t1 = Date.now();
    const from = await skipToNow(ctx.pools, step, ctx.signal);
    const skipMs = Date.now() - t1;
    await withClient(ctx.pools, 'source', step.sourceDatabase, async (c) => {
      // BEGIN READ WRITE: the source may be a read-only backup already (a resumed cutover after schedule_retention).
      await c.query(`BEGIN READ WRITE; SET LOCAL statement_timeout = '${SETUP_TIMEOUT}'; ALTER SUBSCRIPTION ${ident(step.subscription)} ENABLE; COMMIT`).catch(async (err: unknown) => {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      });
    });
    return { detail: { created, tables: step.tables.length, prepared, from, skipMs, totalMs: Date.now() - t0 } };
  },
};
