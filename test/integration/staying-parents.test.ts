import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * A moved table with a foreign key to a table that stays in the source and in use (Ory
 * Kratos: sessions and flows moved, identities stayed). The backup keeps the key: its
 * ON DELETE CASCADE runs a DELETE on the fenced backup at every delete of the staying
 * table, which the fence refuses, even for a row nothing references.
 */
describe('a moved table whose foreign key points at a table that stays in use', () => {
  it('is named by plan with what stops working and the fix; after it, the staying table takes deletes again', async () => {
    const fx = await splitFixture({
      scale: 0.05,
      edit: (doc) => {
        (doc.source as Record<string, unknown>).retire = false;
        (doc.services as Record<string, { tables: string[] }>)['user-service']!.tables.push('casc_child');
        (doc.ignore as string[]).push('casc_parent');
      },
    });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE TABLE casc_parent (id int PRIMARY KEY);
       CREATE TABLE casc_child (id int PRIMARY KEY, parent_id int CONSTRAINT casc_child_parent_fk REFERENCES casc_parent (id) ON DELETE CASCADE);
       INSERT INTO casc_parent VALUES (1), (2); INSERT INTO casc_child VALUES (10, 1)`,
    );
    const plan = await fx.plan();
    expect(plan.warnings.filter((w) => w.includes('casc_child_parent_fk'))).toEqual([
      `public.casc_child (moved to user-service) keeps its foreign key casc_child_parent_fk to public.casc_parent, which stays in the source, ON DELETE CASCADE: from the fence on, ` +
        `every DELETE on public.casc_parent runs that action on the fenced backup and fails there, even for rows nothing references; ` +
        `once the split is verified and will not be rolled back, drop it in the source (ALTER TABLE public.casc_child DROP CONSTRAINT casc_child_parent_fk)`,
    ]);
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    // As warned: a row nothing references cannot be deleted either.
    await expect(query(fx.sourceUrl, `DELETE FROM casc_parent WHERE id = 2`)).rejects.toThrow(/table public\.casc_child has moved to database/);
    await query(fx.sourceUrl, `ALTER TABLE public.casc_child DROP CONSTRAINT casc_child_parent_fk`);
    await query(fx.sourceUrl, `DELETE FROM casc_parent WHERE id = 2`);
    expect(await query(fx.sourceUrl, `SELECT id FROM casc_parent ORDER BY id`)).toEqual([{ id: 1 }]);
  });
});

/** Supabase's PostgREST schema-cache trigger (`pgrst_ddl_watch`): an event trigger of the source database. */
describe('an event trigger of the source', () => {
  it('is named by plan as not carried, with what to do', async () => {
    const fx = await splitFixture({ scale: 0.05 });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION public.ddl_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NOTIFY ddl_watch; END $$;
       CREATE EVENT TRIGGER ${fx.prefix}ddl_watch ON ddl_command_end EXECUTE FUNCTION public.ddl_watch()`,
    );
    try {
      const plan = await fx.plan();
      expect(plan.warnings.filter((w) => w.includes('event trigger'))).toEqual([
        `the source has event trigger ${fx.prefix}ddl_watch (ddl_command_end, ddl_watch), which no new database gets: an event trigger belongs to its database, not to a table; ` +
          'make it in the new databases whose services need it (CREATE EVENT TRIGGER, as a superuser), with its function',
      ]);
    } finally {
      await query(fx.sourceUrl, `DROP EVENT TRIGGER ${fx.prefix}ddl_watch`);
    }
  });
});
