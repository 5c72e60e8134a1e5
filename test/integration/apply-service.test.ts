import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { dropTemplate, sampleTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt, runCli, runSpawned } from './helpers/cli.js';
import { SplitWatch } from './helpers/crash.js';
import { killAtPause, newSplit, referenceRun, sourceSide, stepsOf, treeFiles, type Reference } from './helpers/crash-case.js';
import { splitSignature } from './helpers/catalog-signature.js';
import { expectSameData } from './helpers/assert-split.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';
import type { Plan } from '../../src/plan/model.js';

/**
 * `apply --service`, `verify --service`, `rollback --service` (SPEC §2) on the sample
 * split: a split applied one service at a time ends exactly as one apply (targets, config
 * files, the source's fence, read-only mark and retention record), each part checked
 * and rolled back on its own.
 */

let template: string;
const fixtures: SplitFixture[] = [];
let reference: Reference;

beforeAll(async () => {
  assertBuilt();
  // A third of the sample: the kill is at a step boundary, not inside a large copy.
  template = await sampleTemplate(servers().main, 0.3);
  reference = await referenceRun(template, fixtures);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

/** The killed run and its resumption run the built CLI in their own processes; the other applies run in this one (no process start each). */
const applyArgs = (fx: SplitFixture, services: string[]) => ['apply', fx.planFile, '--service', services.join(','), '--yes', '--jobs', '2'];

/** Why a write to `table` in the source is refused (the fence is a statement trigger: it fires on a DELETE of no row), or null. */
async function fenced(fx: SplitFixture, table: string): Promise<string | null> {
  try {
    await query(fx.sourceUrl, `DELETE FROM ${qname(parseKey(table))} WHERE false`);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function ownedTables(plan: Plan, service: string): string[] {
  return plan.services.find((s) => s.name === service)!.tables.map((t) => t.name);
}

interface StatusJson {
  services: Array<{ name: string; state: string; stepsDone: number; steps: number }>;
  retention?: string;
}

async function statusOf(fx: SplitFixture): Promise<StatusJson> {
  const r = await fx.cli('status', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

/** The split equals the uninterrupted single apply of the reference: targets, files, source side, and verify --checksums passes. */
async function expectLikeOneApply(fx: SplitFixture, plan: Plan): Promise<void> {
  await expectSameData(fx, plan);
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  expect(await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix)).toEqual(reference.signature);
  expect(await treeFiles(fx)).toEqual(reference.files);
  expect(await sourceSide(fx)).toEqual(reference.source);
  // The journal holds every step of the one plan as done.
  const done = await query<{ step_id: string }>(
    fx.controlUrl,
    `SELECT DISTINCT s.step_id FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = $1 AND r.state <> 'rolled_back' AND s.state = 'done'`,
    [fx.name],
  );
  expect(done.map((d) => d.step_id).sort()).toEqual(plan.steps.map((s) => s.id).sort());
}

describe('a split applied service by service', () => {
  it('each service in turn, the first killed during its copy and resumed, ends exactly as one apply', async () => {
    const { fx, plan } = await newSplit(template, fixtures);
    const order = plan.services.map((s) => s.name);
    const [first, ...rest] = order;
    const otherTables = order.slice(1).flatMap((s) => ownedTables(plan, s));
    expect(otherTables.length).toBeGreaterThan(10);

    const watch = await SplitWatch.open(fx);
    try {
      const copies = stepsOf(plan, 'copy_data').filter((s) => s.service === first);
      expect(copies.length).toBeGreaterThan(0);
      await killAtPause(fx, watch, 'after', copies.map((s) => s.id), { args: applyArgs(fx, [first!]) });
    } finally {
      await watch.close();
    }
    // The killed run touched nothing of the other services.
    const touched = await query<{ step_id: string; state: string }>(
      fx.controlUrl,
      `SELECT s.step_id, s.state FROM cloudphone_split.steps s WHERE s.service IS DISTINCT FROM $1 AND s.service IS NOT NULL AND s.state <> 'pending'`,
      [first],
    );
    expect(touched).toEqual([]);

    const resumed = await runSpawned(applyArgs(fx, [first!]), fx.env);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(resumed.stdout).toMatch(/already done/);
    expect(resumed.stdout).toContain(`1 of ${order.length} services applied; retention starts after the last`);

    // Only its tables are fenced; the others stay writable, and the source is not retired yet.
    for (const t of ownedTables(plan, first!)) expect(await fenced(fx, t)).toMatch(/has moved to database/);
    for (const t of otherTables) expect(await fenced(fx, t), t).toBeNull();
    const [readOnly] = await query<{ v: string }>(fx.sourceUrl, `SELECT current_setting('default_transaction_read_only') AS v`);
    expect(readOnly!.v).toBe('off');
    expect(await query(fx.controlUrl, `SELECT 1 FROM cloudphone_split.retention WHERE split = $1`, [fx.name])).toEqual([]);
    const partial = await statusOf(fx);
    expect(partial.services.map((s) => [s.name, s.state])).toEqual(order.map((n) => [n, n === first ? 'applied' : 'not applied']));
    expect(partial.retention).toBe('waiting');

    // verify --service checks that service only, and passes; the whole split does not verify yet.
    const mine = await fx.cli('verify', '--service', first!, '--json');
    expect(mine.code, mine.stdout + mine.stderr).toBe(0);
    const checks = (JSON.parse(mine.stdout) as { checks: Array<{ kind: string; service?: string; ok: boolean }> }).checks;
    expect(checks.filter((c) => c.kind === 'rowcount').length).toBeGreaterThan(0);
    expect(checks.filter((c) => c.service !== undefined && c.service !== first)).toEqual([]);
    expect(checks.filter((c) => c.kind === 'isolation' && /stays open until the last service/.test((c as { detail?: string }).detail ?? '')).length).toBeGreaterThan(0);
    const all = await fx.cli('verify', '--json');
    expect(all.code).toBe(1);

    for (const [i, service] of rest.entries()) {
      const r = await runCli(applyArgs(fx, [service]), fx.env);
      expect(r.code, `${service}\n${r.stderr}\n${r.stdout}`).toBe(0);
      if (i < rest.length - 1) expect(r.stdout).toContain(`${i + 2} of ${order.length} services applied; retention starts after the last`);
      else expect(r.stdout).toMatch(/Split .* applied/);
    }
    const status = await statusOf(fx);
    expect(status.services.every((s) => s.state === 'applied' && s.stepsDone === s.steps)).toBe(true);
    expect(status.retention).toBe('scheduled');
    await expectLikeOneApply(fx, plan);
    const again = await runCli(applyArgs(fx, [first!]), fx.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing left to do/);
  });

  it('refuses a name that is not a service of the plan: usage error, closest name suggested, nothing changed', async () => {
    const { fx } = await newSplit(template, fixtures);
    const r = await runCli(applyArgs(fx, ['billing-servce']), fx.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"billing-servce" is not a service of split');
    expect(r.stderr).toContain('did you mean billing-service?');
    const runs = await query(fx.controlUrl, `SELECT 1 FROM pg_namespace WHERE nspname = 'cloudphone_split'`);
    if (runs.length > 0) expect(await query(fx.controlUrl, `SELECT 1 FROM cloudphone_split.runs`)).toEqual([]);
    expect(await query(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname = $1`, [fx.service('billing').database])).toEqual([]);
  });

  it('rollback --service undoes one service and leaves the others applied and verified; refuses what others depend on', async () => {
    const { fx, plan } = await newSplit(template, fixtures);
    const original = await treeFiles(fx);
    const order = plan.services.map((s) => s.name);
    const last = order.at(-1)!;
    const billing = fx.service('billing');
    const applied = order.filter((s) => s !== last);
    // All but the last, in one run (--service takes a list).
    const first = await runCli(applyArgs(fx, applied), fx.env);
    expect(first.code, `${first.stderr}\n${first.stdout}`).toBe(0);
    expect(first.stdout).toContain(`${applied.length} of ${order.length} services applied; retention starts after the last`);
    expect(applied).toContain(billing.name);
    expect(applied).toContain('user-service');

    // Others copied or denormalized from user-service's tables: refused, nothing changed.
    const refused = await fx.cli('rollback', '--service', 'user-service', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/api-gateway \(applied\) copied public\.roles, public\.users from them/);
    expect(refused.stderr).toMatch(/billing-service \(applied\) denormalized public\.orders\.user_name from public\.users\.username/);
    expect(refused.stderr).toMatch(/device-service \(applied\) repointed .*atlas\.hcl after them/);
    expect(await fenced(fx, 'public.users')).toMatch(/has moved to database/);
    const unknown = await fx.cli('rollback', '--service', 'billing', '--yes');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean billing-service?');

    const before = await fx.cli('verify', '--service', applied.join(','));
    expect(before.code, before.stdout + before.stderr).toBe(0);
    const r = await fx.cli('rollback', '--service', billing.name, '--yes');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${billing.name} of split ${fx.name} rolled back`);
    // Its tables, writable again, keep their keys to the other services' fenced backups: said, with the statement that drops each.
    expect(r.stdout).toContain(
      `warning: public.orders, given back to the source's services, keeps its foreign key orders_user_id_fkey to public.users, split ${fx.name}'s fenced backup: ` +
        `a row referencing one that split's services wrote in their database since is refused. Drop it in the source if that matters (ALTER TABLE public.orders DROP CONSTRAINT orders_user_id_fkey)`,
    );

    // Its database and role are gone, its tables writable again, its config files as before the split.
    expect(await query(billing.serverUrl, `SELECT datname FROM pg_database WHERE datname = $1`, [billing.database])).toEqual([]);
    expect(await query(billing.serverUrl, `SELECT rolname FROM pg_roles WHERE rolname = $1`, [billing.role])).toEqual([]);
    for (const t of ownedTables(plan, billing.name)) expect(await fenced(fx, t), t).toBeNull();
    const files = await treeFiles(fx);
    for (const [file, text] of Object.entries(files)) {
      if (file.includes('billing-service')) expect(text, file).toBe(original[file]);
      else if (file.includes('device-service/.env')) expect(text, file).not.toBe(original[file]);
    }
    // The others: still applied, fenced, verified.
    for (const t of ownedTables(plan, 'device-service')) expect(await fenced(fx, t)).toMatch(/has moved to database/);
    const others = applied.filter((s) => s !== billing.name);
    const still = await fx.cli('verify', '--service', others.join(','));
    expect(still.code, still.stdout + still.stderr).toBe(0);
    const status = await statusOf(fx);
    expect(status.services.map((s) => [s.name, s.state])).toEqual(order.map((n) => [n, others.includes(n) ? 'applied' : 'not applied']));

    // Applied again, then the last: the split ends as one apply would.
    for (const service of [billing.name, last]) {
      const again = await runCli(applyArgs(fx, [service]), fx.env);
      expect(again.code, `${service}\n${again.stderr}\n${again.stdout}`).toBe(0);
    }
    await expectLikeOneApply(fx, plan);

    // Once the whole split is applied its source is retired as a whole: only a whole rollback.
    const late = await fx.cli('rollback', '--service', billing.name, '--yes');
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/only the whole split can be rolled back/);
    expect(await query(billing.serverUrl, `SELECT datname FROM pg_database WHERE datname = $1`, [billing.database])).toHaveLength(1);
  });
});
