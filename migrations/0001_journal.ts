import { sql, type Kysely } from 'kysely';

/** The schema of the control database that holds every split's journal. */
export const JOURNAL_SCHEMA = 'cloudphone_split';

const RUN_STATES = ['running', 'succeeded', 'failed', 'interrupted', 'rolled_back'];
const STEP_STATES = ['pending', 'running', 'done', 'failed', 'skipped'];
const OBJECT_KINDS = ['database', 'role', 'fence', 'publication', 'subscription', 'slot', 'retention', 'config'];
const RETENTION_STATES = ['scheduled', 'pruned', 'restored'];

function oneOf(column: string, values: readonly string[]) {
  return sql`${sql.ref(column)} IN (${sql.join(values.map((v) => sql.lit(v)))})`;
}

/**
 * The journal: one row per split, per run, per step of a run; what a split created
 * (for rollback), the backups it keeps (retention) and small facts. The state
 * machines are CHECK constraints so no writer can store an impossible row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createSchema(JOURNAL_SCHEMA).ifNotExists().execute();
  const s = db.schema.withSchema(JOURNAL_SCHEMA);

  await s
    .createTable('splits')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('splits_name_format', sql`name ~ '^[a-z0-9_-]+$'`)
    .execute();

  await s
    .createTable('runs')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('split', 'text', (c) => c.notNull().references('splits.name').onDelete('cascade'))
    .addColumn('plan_hash', 'text', (c) => c.notNull())
    .addColumn('plan', 'jsonb', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('error', 'text')
    .addColumn('pid', 'integer')
    .addColumn('host', 'text')
    .addCheckConstraint('runs_state', oneOf('state', RUN_STATES))
    .addCheckConstraint('runs_plan_hash_format', sql`plan_hash ~ '^[0-9a-f]{64}$'`)
    .addCheckConstraint('runs_finished_iff_not_running', sql`(state = 'running') = (finished_at IS NULL)`)
    .addCheckConstraint('runs_failed_has_error', sql`state <> 'failed' OR error IS NOT NULL`)
    .addCheckConstraint('runs_finished_after_start', sql`finished_at IS NULL OR finished_at >= started_at`)
    .execute();
  await s.createIndex('runs_split_id').on('runs').columns(['split', 'id']).execute();

  await s
    .createTable('steps')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('step_id', 'text', (c) => c.notNull())
    .addColumn('ordinal', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('service', 'text')
    .addColumn('table', 'text')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('rows', 'bigint')
    .addColumn('bytes', 'bigint')
    .addColumn('error', 'text')
    .addColumn('detail', 'jsonb')
    .addPrimaryKeyConstraint('steps_pkey', ['run_id', 'step_id'])
    .addUniqueConstraint('steps_run_ordinal', ['run_id', 'ordinal'])
    .addCheckConstraint('steps_state', oneOf('state', STEP_STATES))
    .addCheckConstraint('steps_kind_format', sql`kind ~ '^[a-z_]+$'`)
    .addCheckConstraint('steps_running_started', sql`state NOT IN ('running', 'done', 'failed') OR started_at IS NOT NULL`)
    .addCheckConstraint('steps_finished_time', sql`(state IN ('done', 'failed', 'skipped')) = (finished_at IS NOT NULL)`)
    .addCheckConstraint('steps_failed_has_error', sql`(state = 'failed') = (error IS NOT NULL)`)
    .addCheckConstraint('steps_counts_not_negative', sql`coalesce(rows, 0) >= 0 AND coalesce(bytes, 0) >= 0`)
    .execute();
  await s.createIndex('steps_done').on('steps').columns(['step_id']).where(sql.ref('state'), '=', 'done').execute();

  await s
    .createTable('created_objects')
    .addColumn('split', 'text', (c) => c.notNull().references('splits.name').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('server', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('detail', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('created_objects_identity', ['split', 'kind', 'server', 'name'])
    .addCheckConstraint('created_objects_kind', oneOf('kind', OBJECT_KINDS))
    .execute();

  await s
    .createTable('retention')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('split', 'text', (c) => c.notNull().references('splits.name').onDelete('cascade'))
    .addColumn('server', 'text', (c) => c.notNull())
    .addColumn('database', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('scheduled'))
    .addColumn('verified', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('detail', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('retention_identity', ['split', 'server', 'database'])
    .addCheckConstraint('retention_state', oneOf('state', RETENTION_STATES))
    .execute();

  await s
    .createTable('facts')
    .addColumn('split', 'text', (c) => c.notNull().references('splits.name').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('facts_pkey', ['split', 'key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const s = db.schema.withSchema(JOURNAL_SCHEMA);
  for (const table of ['facts', 'retention', 'created_objects', 'steps', 'runs', 'splits']) {
    await s.dropTable(table).ifExists().execute();
  }
}
