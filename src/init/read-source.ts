import pg from 'pg';
import type { Catalog } from '../catalog/model.js';
import { introspect } from '../catalog/introspect.js';
import { BadInputError, ServerError, SplitError } from '../errors.js';
import { connectError } from '../pg/errors.js';
import { databaseOf, redact } from '../conn/connection.js';
import { stripToolObjects } from '../plan/tool-objects.js';
import { nodePgConfig } from '../conn/node-pg.js';

/**
 * Reads the catalog of `schemas` from the database at `url`, after checking that
 * each schema exists (a missing one is bad input, with the schemas there are).
 * The tool's own fence objects are left out, as `plan` leaves them out.
 */
export async function readSourceCatalog(url: string, schemas: readonly string[]): Promise<Catalog> {
  const client = new pg.Client(nodePgConfig(url, { application_name: 'cloudphone-split init' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectError(err, url, 'source');
  }
  try {
    const { rows } = await client.query<{ name: string; wanted: boolean }>(
      `SELECT nspname::text AS name, nspname = ANY($1::text[]) AS wanted FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
      [schemas],
    );
    const found = new Set(rows.filter((r) => r.wanted).map((r) => r.name));
    const missing = schemas.filter((s) => !found.has(s));
    if (missing.length > 0) {
      throw new BadInputError(
        `schema${missing.length === 1 ? '' : 's'} ${missing.join(', ')} not found in database ${databaseOf(url)}`,
        `pass --schema with schemas that exist there: ${rows.map((r) => r.name).join(', ') || '(none)'}`,
      );
    }
    return stripToolObjects(await introspect(client, [...schemas]));
  } catch (err) {
    if (err instanceof SplitError) throw err;
    throw new ServerError(`reading the catalog of ${redact(url)} failed: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}
