import type pg from 'pg';

/**
 * The source's event triggers (`pg_event_trigger`), less those an extension makes: they
 * belong to the database, not to a table, so the split carries none; plan names them.
 */
export async function readEventTriggers(client: pg.Client): Promise<Array<{ name: string; event: string; fn: string }>> {
  const r = await client.query<{ name: string; event: string; fn: string }>(
    `SELECT e.evtname AS name, e.evtevent AS event, e.evtfoid::regproc::text AS fn
       FROM pg_event_trigger e
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype = 'e')
      ORDER BY 1`,
  );
  return r.rows;
}

/** The plan's warning for them, or null when there are none. */
export function eventTriggerWarning(triggers: ReadonlyArray<{ name: string; event: string; fn: string }>): string | null {
  if (triggers.length === 0) return null;
  const list = triggers.map((t) => `${t.name} (${t.event}, ${t.fn})`).join(', ');
  return (
    `the source has event trigger${triggers.length === 1 ? '' : 's'} ${list}, which no new database gets: an event trigger belongs to its database, not to a table; ` +
    `make ${triggers.length === 1 ? 'it' : 'them'} in the new databases whose services need ${triggers.length === 1 ? 'it' : 'them'} (CREATE EVENT TRIGGER, as a superuser), with ${triggers.length === 1 ? 'its function' : 'their functions'}`
  );
}
