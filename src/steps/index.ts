import type { StepHandlers } from './handler.js';
import { preflight } from './preflight.js';
import { createRole } from './create-role.js';
import { createDatabase } from './create-database.js';
import { createSchema } from './create-schema.js';
import { fenceSource } from './fence-source.js';
import { copyData } from './copy-data.js';
import { copyBatch } from './copy-batch.js';
import { createIndexes } from './create-indexes.js';
import { syncSequences } from './sync-sequences.js';
import { grant } from './grant.js';
import { verifyRowcounts } from './verify-rowcounts.js';
import { repointConfig } from './repoint-config.js';
import { scheduleRetention } from './schedule-retention.js';
import { startReplication } from './start-replication.js';
import { waitSync } from './wait-sync.js';
import { catchUp } from './catch-up.js';
import { stopReplication } from './stop-replication.js';
import { releaseReplication } from './release-replication.js';
import { startReverseReplication } from './start-reverse-replication.js';
import { fenceTarget } from './fence-target.js';
import { reverseCatchUp } from './reverse-catch-up.js';
import { syncSequencesBack } from './sync-sequences-back.js';
import { unfenceSource } from './unfence-source.js';
import { restoreConfig } from './restore-config.js';
import { stopReverseReplication } from './stop-reverse-replication.js';
import { copyBack } from './copy-back.js';
import { startServerCopy } from './start-server-copy.js';
import { waitServerCopy } from './wait-server-copy.js';
import { stopServerCopy } from './stop-server-copy.js';
import { withOnlineChecks } from '../online/online-preflight.js';
import { withLiveRowcounts } from '../online/live-rowcounts.js';

/** The exhaustive registry: a step kind without a handler does not compile. */
export const handlers: StepHandlers = {
  preflight: withOnlineChecks(preflight),
  create_role: createRole,
  create_database: createDatabase,
  create_schema: createSchema,
  fence_source: fenceSource,
  // Small tables are copied in batches (copy-batch.ts).
  copy_data: { ...copyData, batch: copyBatch },
  start_server_copy: startServerCopy,
  wait_server_copy: waitServerCopy,
  stop_server_copy: stopServerCopy,
  create_indexes: createIndexes,
  sync_sequences: syncSequences,
  grant,
  verify_rowcounts: withLiveRowcounts(verifyRowcounts),
  repoint_config: repointConfig,
  schedule_retention: scheduleRetention,
  start_replication: startReplication,
  wait_sync: waitSync,
  catch_up: catchUp,
  stop_replication: stopReplication,
  release_replication: releaseReplication,
  start_reverse_replication: startReverseReplication,
  fence_target: fenceTarget,
  reverse_catch_up: reverseCatchUp,
  sync_sequences_back: syncSequencesBack,
  unfence_source: unfenceSource,
  restore_config: restoreConfig,
  stop_reverse_replication: stopReverseReplication,
  copy_back: copyBack,
};
