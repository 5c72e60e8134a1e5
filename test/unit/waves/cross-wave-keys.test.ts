import { describe, expect, it } from 'vitest';
import { crossWaveKeyWarnings, type SourceForeignKey } from '../../../src/waves/cross-wave-keys.js';

const key = (table: string, constraint: string, references: string, actions = ''): SourceForeignKey => ({
  table,
  constraint,
  references,
  definition: `FOREIGN KEY (x) REFERENCES ${references}(id)${actions}`,
  drop: `ALTER TABLE ${table} DROP CONSTRAINT ${constraint}`,
});

describe('foreign keys a wave\'s rollback leaves between its tables and other splits\' fenced backups', () => {
  const own = new Set(['public.invoices']);
  const others = new Map([['public.events', 'ops'], ['public.users', 'accounts']]);

  it('names a backup\'s key to a table given back, with the action it runs on the backup', () => {
    const [w] = crossWaveKeyWarnings([key('public.events', 'events_invoice_fk', 'public.invoices', ' ON UPDATE CASCADE ON DELETE SET NULL')], own, others);
    expect(w).toBe(
      "public.events, split ops's fenced backup, keeps its foreign key events_invoice_fk to public.invoices, which this rollback gives back to the source's services; " +
        'ON UPDATE CASCADE ON DELETE SET NULL: every DELETE on public.invoices runs that action on the fenced backup and fails there, even for rows nothing references. ' +
        "Drop it in the source if that matters (ALTER TABLE public.events DROP CONSTRAINT events_invoice_fk); a rollback of split ops would then give the source back without it",
    );
  });

  it('says what a key without action keeps from being deleted, and what a key update action does', () => {
    expect(crossWaveKeyWarnings([key('public.events', 'e_fk', 'public.invoices')], own, others)[0]).toContain('a row of public.invoices that the backup still references can no longer be deleted');
    expect(crossWaveKeyWarnings([key('public.events', 'e_fk', 'public.invoices', ' ON UPDATE CASCADE')], own, others)[0]).toContain('every key UPDATE on public.invoices runs that action');
  });

  it('names a key from a table given back to a backup: new rows are checked against stale rows', () => {
    expect(crossWaveKeyWarnings([key('public.invoices', 'invoices_user_fk', 'public.users')], own, others)).toEqual([
      "public.invoices, given back to the source's services, keeps its foreign key invoices_user_fk to public.users, split accounts's fenced backup: " +
        "a row referencing one that split's services wrote in their database since is refused. Drop it in the source if that matters (ALTER TABLE public.invoices DROP CONSTRAINT invoices_user_fk); " +
        "pruning split accounts's backups drops it too",
    ]);
  });

  it('leaves out keys that do not join the two: within the wave, between other splits, to or from staying tables', () => {
    const keys = [
      key('public.invoices', 'self_fk', 'public.invoices'),
      key('public.events', 'ev_users', 'public.users'),
      key('public.audit', 'audit_invoice', 'public.invoices', ' ON DELETE CASCADE'),
      key('public.invoices', 'inv_accounts', 'public.accounts'),
    ];
    expect(crossWaveKeyWarnings(keys, own, others)).toEqual([]);
  });
});
