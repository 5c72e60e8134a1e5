import { expect } from 'vitest';
import { corpusSuite, refused, scalar, verifyReports } from './helpers/real-corpus-suite.js';
import { query } from '../harness/servers.js';

/** test/fixtures/real/slack-clone: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('slack-clone', {
  from15to18: true,
  async afterSplit(split, service) {
    const chat = service('chat');
    const people = service('people');
    const plan = await split.readPlan();
    const warnings = plan.warnings;
    // What the chat's database gets besides its tables, Supabase's auth functions included, listed in the plan.
    expect(plan.services.find((s) => s.name === 'chat')!.objects!.map((o) => `${o.placement} ${o.kind} ${o.name}`)).toEqual(
      expect.arrayContaining(['moved function auth.jwt()', 'copied function auth.uid()', 'copied function auth.role()', 'copied type public.app_role']),
    );
    // What the split cannot carry or make work, each named once.
    expect(warnings.filter((w) => w.includes('public.authorize('))).toEqual([
      expect.stringContaining('reads table public.role_permissions (owned by people), which ' + split.services.find((s) => s.name === 'chat')!.database + ' does not get'),
    ]);
    expect(warnings.filter((w) => w.startsWith('publication '))).toEqual([
      expect.stringContaining(
        'publication supabase_realtime on the source publishes public.channels, public.messages (chat), public.users (people): it is made again in the database of chat, people',
      ),
    ]);
    // Made again there over each database's own tables (the strict oracle below compares them with the source's).
    expect(await query(chat, `SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 1`)).toEqual([
      { t: 'channels' },
      { t: 'messages' },
    ]);
    expect(warnings.filter((w) => w.includes('extension'))).toEqual([expect.stringContaining('extension uuid-ossp of the source')]);
    // The authorization function moved with the policies that call it; its read of another service's table fails as warned,
    // and the function of Supabase's auth schema that only its body calls came along.
    expect(await refused(chat, `SELECT authorize('messages.delete', NULL)`)).toMatch(/relation "public.role_permissions" does not exist/);
    expect(await scalar(chat, `SELECT auth.jwt()::text`)).toBe('{}');
    // The enum its body casts to (`::public.app_role`) came along too.
    expect(await scalar(chat, `SELECT 'admin'::public.app_role::text`)).toBe('admin');
    expect(await scalar(chat, `SELECT count(*) FROM pg_policies WHERE tablename = 'messages'`)).toBe('5');
    expect(await scalar(chat, `SELECT relreplident::text FROM pg_class WHERE oid = 'public.messages'::regclass`)).toBe('f');
    // Identity columns continue; the hook reads the roles in the people's database.
    expect(await scalar(chat, `INSERT INTO messages (message, user_id, channel_id) SELECT 'again', user_id, channel_id FROM messages LIMIT 1 RETURNING id`)).toBe('5');
    expect(await scalar(people, `SELECT custom_access_token_hook(jsonb_build_object('user_id', id, 'claims', '{}'::jsonb)) -> 'claims' ->> 'user_role' FROM users WHERE username LIKE 'ada%'`)).toBe('admin');
    await query(people, `DELETE FROM role_permissions WHERE role = 'moderator'`);
    await verifyReports(split, /role_permissions/);
  },
});
