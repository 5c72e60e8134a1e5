import { sampleDataSql } from './sample-data.js';
import { SAMPLE_SCHEMA_SQL } from './sample-schema.js';
import { sessionTo } from './embedded.js';

export { SAMPLE_SCHEMA_SQL } from './sample-schema.js';
export { sampleCounts, sampleDataSql, type SampleCounts } from './sample-data.js';

/**
 * Creates the sample `cloudphone_core` schema and fills it, in the database of `url`
 * (which must be empty; the connecting role must be a superuser or hold CREATE on the
 * database and may create the citext and btree_gist extensions). The schema and the
 * data are each one transaction: a failure leaves the database as it was before that part.
 */
export async function loadSample(url: string, opts: { scale?: number } = {}): Promise<void> {
  const data = sampleDataSql(opts);
  const client = sessionTo(url, 'cloudphone-split sample');
  await client.connect();
  try {
    await client.query('SET client_min_messages = warning');
    await client.query(SAMPLE_SCHEMA_SQL);
    await client.query(data);
  } catch (err) {
    throw new Error(`loading the sample database failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await client.end();
  }
}
