import { describe, expect, it } from 'vitest';
import { renderPostData } from '../../../src/catalog/ddl.js';
import { splitPostData } from '../../../src/online/identity-keys.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

describe('splitPostData: the post-data of online mode, in two steps', () => {
  // A table with everything otherPhase renders: a rule and extended statistics among them (Lemmy's *_actions tables).
  const catalog = new CatalogBuilder().table('votes', { columns: ['id', 'up:boolean', 'at:timestamptz'] }).build();
  const votes = catalog.tables[0]!;
  votes.indexes = [{ name: 'votes_at', definition: 'CREATE INDEX votes_at ON public.votes USING btree (at)', constraint: null, unique: false, comment: 'by time', parentIndex: null, clustered: false } as (typeof votes.indexes)[number]];
  votes.rules = [{ name: 'votes_kept', definition: 'CREATE RULE votes_kept AS ON DELETE TO public.votes DO INSTEAD NOTHING;', enabled: 'O', comment: 'never deleted', references: [] }];
  votes.statistics = [{ schema: 'public', name: 'votes_stat', definition: 'CREATE STATISTICS public.votes_stat ON up, at FROM public.votes', target: 500, comment: 'together' }];
  votes.constraints[0]!.definition = 'PRIMARY KEY (id)';

  it("holds every statement of the offline post-data once: none twice (a second CREATE STATISTICS or CREATE RULE fails, 'already exists')", () => {
    const { keys, rest } = splitPostData(catalog, ['public.votes']);
    const online = [...(keys['public.votes'] ?? []), ...(rest['public.votes'] ?? [])];
    const offline = renderPostData(catalog, ['public.votes'], { keepForeignKey: () => false }).perTable['public.votes'] ?? [];
    expect([...online].sort()).toEqual([...offline].sort());
    expect(new Set(online).size).toBe(online.length);
    // The keys step holds the primary key, nothing the rest makes.
    expect(keys['public.votes']!.join('\n')).toContain('PRIMARY KEY');
    expect(rest['public.votes']!.join('\n')).toContain('CREATE STATISTICS public.votes_stat');
    expect(rest['public.votes']!.join('\n')).toContain('CREATE RULE votes_kept');
  });
});
