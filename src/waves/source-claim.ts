import pg from 'pg';
import { LockedError, ServerError } from '../errors.js';
import { redact } from '../conn/connection.js';
import { nodePgConfig } from '../conn/node-pg.js';

/** The first key of the claim lock: the second is hashtext(source database name). */
export const CLAIM_NAMESPACE = 'cloudphone-split source claim';

/** How long an apply waits for another apply of the same source to end its checks. */
const CLAIM_WAIT = '2min';

/**
 * One advisory lock per source database in the control database, held by an apply from
 * its last check of the tables other splits move (SPEC §7) until the journal records its
 * own run: two applies of different splits started at the same moment take turns there,
 * so the second sees the first's run (moving those tables) and refuses before it makes
 * anything, where both used to pass their checks and copy.
 */
export class SourceClaim {
  private released = false;

  private constructor(private readonly client: pg.Client, private readonly database: string) {}

  /** Waits for the claim of `database`'s source (another apply holds it only while it checks), or throws LockedError. */
  static async acquire(controlUrl: string, database: string, split: string): Promise<SourceClaim> {
    const client = new pg.Client(nodePgConfig(controlUrl, { application_name: `cloudphone-split apply ${split} (checks)`.slice(0, 63), connectionTimeoutMillis: 30_000 }));
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new ServerError(`cannot connect to the control database ${redact(controlUrl)}: ${(err as Error).message}`, undefined, { cause: err });
    }
    try {
      await client.query(`SET lock_timeout = '${CLAIM_WAIT}'`);
      await client.query('SELECT pg_advisory_lock(hashtext($1::text), hashtext($2::text))', [CLAIM_NAMESPACE, database]);
      await client.query('RESET lock_timeout');
      return new SourceClaim(client, database);
    } catch (err) {
      await client.end().catch(() => undefined);
      if ((err as { code?: string }).code === '55P03') {
        throw new LockedError(
          `another apply of source database ${database} has been checking which tables other splits move for ${CLAIM_WAIT}`,
          'run the command again; if it stays, look for a cloudphone-split apply session "(checks)" in pg_stat_activity of the control database',
        );
      }
      throw err;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await this.client.query('SELECT pg_advisory_unlock(hashtext($1::text), hashtext($2::text))', [CLAIM_NAMESPACE, this.database]);
    } catch {
      // Ending the session below releases it anyway.
    } finally {
      await this.client.end().catch(() => undefined);
    }
  }
}
