import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { restartableServer, type RestartableServer } from './helpers/restartable-server.js';
import { inProcess } from './helpers/crash-case.js';

/**
 * `verify` (and `rollback`) while a service's server does not answer: the checks that need it could not
 * run, which is no difference. Before, each was listed as a difference (exit 1) with the
 * fix of a real one (for a sequence: "set it with the setval shown"), so CI read "the data
 * differs" and a user was told to change what was fine. Now: exit 3, the checks marked
 * `?` (and `unverified` in --json), no fix advice, "run verify again"; a difference found
 * elsewhere at the same time still makes it exit 1.
 */

let template: string;
let dedicated: RestartableServer | undefined;
let fx: SplitFixture | undefined;
let second: SplitFixture | undefined;

beforeAll(async () => {
  [template, dedicated] = await Promise.all([sharedSampleTemplate(servers().main, 1), restartableServer()]);
});

afterAll(async () => {
  await dedicated?.start().catch(() => undefined);
  await fx?.cleanup();
  await second?.cleanup();
  await dedicated?.destroy();
});

interface JsonCheck {
  kind: string;
  service?: string;
  table?: string;
  ok: boolean;
  detail: string;
  unverified?: boolean;
}

describe('verify while the server of one service is down', () => {
  it('its checks could not run: exit 3 and "run verify again", no difference claimed; with a real difference too: exit 1', async () => {
    fx = await splitFixture({ template, billing: dedicated!.url });
    const split = fx;
    await inProcess(() => split.plan());
    const applied = await split.cli('apply', split.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const before = await split.cli('verify', '--checksums');
    expect(before.code, before.stdout + before.stderr).toBe(0);

    await dedicated!.stop();
    const billing = split.service('billing').name;

    const human = await split.cli('verify', '--checksums');
    expect(human.code, human.stdout + human.stderr).toBe(3);
    expect(human.stdout).toMatch(new RegExp(`service ${billing}\\s+\\d+ could not run`));
    expect(human.stdout).toMatch(/^\s+\? (rowcount|checksum|sequence|schema)\s/m);
    expect(human.stdout).not.toMatch(/^\s+✗ /m);
    expect(human.stdout).not.toContain('→ set each sequence');
    expect(human.stdout).toMatch(/verify: no difference found, but \d+ of \d+ checks could not run: .*run verify again/);

    const json = await split.cli('verify', '--checksums', '--json');
    expect(json.code, json.stderr).toBe(3);
    const doc = JSON.parse(json.stdout) as { ok: boolean; checks: JsonCheck[]; unverified: number };
    expect(doc.ok).toBe(false);
    const failed = doc.checks.filter((c) => !c.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.filter((c) => c.unverified !== true), 'every failed check is one that could not run').toEqual([]);
    expect(doc.unverified).toBe(failed.length);
    // Only what needs the stopped server: the billing service's data, schema and sequences (and role isolation probes to it).
    expect(new Set(failed.filter((c) => c.kind !== 'isolation').map((c) => c.service))).toEqual(new Set([billing]));
    expect(failed.map((c) => c.kind)).toEqual(expect.arrayContaining(['rowcount', 'checksum', 'schema', 'sequence']));

    await dedicated!.start();
    const back = await split.cli('verify', '--checksums');
    expect(back.code, back.stdout + back.stderr).toBe(0);

    // A real difference on the server that answers, while the other is down again: exit 1, both listed.
    const user = split.service('user');
    await query(user.url, `DELETE FROM public.users WHERE id = (SELECT min(id) FROM public.users)`);
    await dedicated!.stop();
    const both = await split.cli('verify', '--checksums');
    expect(both.code, both.stdout).toBe(1);
    expect(both.stdout).toMatch(/^\s+✗ rowcount\s+public\.users\s/m);
    expect(both.stdout).toMatch(/^\s+\? /m);
    expect(both.stdout).toMatch(/verify: \d+ of \d+ checks found a difference; \d+ of \d+ checks could not run/);
  });

  it('rollback while the server of one service is down changes nothing anywhere (its check cannot run), then finishes once it is back', async () => {
    second = await splitFixture({ template, billing: dedicated!.url });
    const split = second;
    await dedicated!.start();
    await inProcess(() => split.plan());
    const applied = await split.cli('apply', split.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const databases = async (server: string, names: string[]): Promise<string[]> =>
      (await query<{ datname: string }>(server, `SELECT datname FROM pg_database WHERE datname = ANY($1::text[]) ORDER BY 1`, [names])).map((r) => r.datname);
    const onMain = split.services.filter((s) => s.serverUrl !== split.service('billing').serverUrl).map((s) => s.database);
    const before = await databases(split.sourceServer, onMain);
    expect(before.length).toBeGreaterThan(0);

    await dedicated!.stop();
    const refused = await split.cli('rollback', '--yes');
    expect(refused.code, refused.stdout + refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/cannot reach the PostgreSQL server at \S+: connection refused; rollback changed nothing/);
    expect(refused.stderr).toContain('run rollback again once the server answers');
    // Nothing changed on the server that answered: its databases are all there, the source still fenced.
    expect(await databases(split.sourceServer, onMain)).toEqual(before);
    const fence = await query(split.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' LIMIT 1`);
    expect(fence.length).toBe(1);

    await dedicated!.start();
    const done = await split.cli('rollback', '--yes');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(await databases(split.sourceServer, onMain)).toEqual([]);
  });
});
