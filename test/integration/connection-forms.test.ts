import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { query, servers, second } from '../harness/servers.js';
import { spawnCli } from './helpers/cli.js';
import { quoteKeywordValue } from '../../src/conn/libpq-keywords.js';
import { dropTemplate, keepServices, sampleTemplate, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
/** The sample, loaded once; each case's source is a copy of it. */
let template = '';
beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.05);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await dropTemplate(servers().main, template);
});

/**
 * What the connection forms reach: billing-service on the billing-pg server, app-service
 * on the source's (the other services' tables stay in the source).
 */
function fixture(): Promise<SplitFixture> {
  return splitFixture({ template, billing: second(), edit: (doc) => keepServices(doc, ['billing-service', 'app-service']) });
}

type Form = 'userinfo' | 'query' | 'keyword' | 'socket';
const FORMS: Form[] = ['userinfo', 'query', 'keyword', 'socket'];

/** The same connection as `url` (a superuser URL of a test server), written in `form`. */
async function written(form: Form, url: string, database: string): Promise<string> {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  switch (form) {
    case 'userinfo':
      return `postgres://${u.username}:${encodeURIComponent(password)}@${u.host}/${database}`;
    case 'query':
      return `postgresql://${u.username}@${u.host}/${database}?sslmode=disable&password=${encodeURIComponent(password)}`;
    case 'keyword':
      return `host=${u.hostname} port=${u.port} user=${u.username} password=${quoteKeywordValue(password)} dbname=${quoteKeywordValue(database)}`;
    case 'socket': {
      const dir = (await query<{ d: string }>(url, `SELECT split_part(current_setting('unix_socket_directories'), ',', 1) AS d`))[0]!.d;
      return `postgres://${u.username}@/${database}?host=${encodeURIComponent(dir.trim())}&port=${u.port}&password=${encodeURIComponent(password)}`;
    }
  }
}

describe('every connection form libpq accepts', () => {
  // Four runs: each form is, once, the source, the control database and a target server.
  it.each(FORMS.map((_, i) => i))('rotation %i: plan, apply and status connect through each form', async (i) => {
    const [sourceForm, controlForm, targetForm] = [FORMS[i]!, FORMS[(i + 1) % 4]!, FORMS[(i + 2) % 4]!];
    const fx = await fixture();
    fixtures.push(fx);
    fx.env.CLOUDPHONE_CORE_URL = await written(sourceForm, servers().main, fx.sourceDb);
    fx.env.SPLIT_CONTROL_URL = await written(controlForm, servers().main, `${fx.prefix}control`);
    fx.env.BILLING_PG_URL = await written(targetForm, second(), 'postgres');
    const label = `source ${sourceForm}, control ${controlForm}, billing-pg ${targetForm}`;
    const planned = await fx.cli('plan', '-o', fx.planFile);
    expect(planned.code, `${label}\n${planned.stderr}`).toBe(0);
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, `${label}\n${applied.stderr}`).toBe(0);
    const status = await fx.cli('status', '--json');
    expect(status.code, `${label}\n${status.stderr}`).toBe(0);
    expect((JSON.parse(status.stdout) as { runs: Array<{ state: string }> }).runs[0]!.state).toBe('succeeded');
    const billing = fx.service('billing');
    expect((await query(billing.url, `SELECT count(*)::int AS n FROM invoices`))[0]!.n).toBeGreaterThan(0);
  });

  it('refuses a URL with an unencoded # with exit 2 and the fix, for each place a URL goes', async () => {
    const fx = await fixture();
    fixtures.push(fx);
    const hash = 'postgres://postgres:pa#ss@127.0.0.1:1/x';
    for (const variable of ['CLOUDPHONE_CORE_URL', 'SPLIT_CONTROL_URL', 'BILLING_PG_URL']) {
      const bad = await (async () => {
        const saved = fx.env[variable];
        fx.env[variable] = hash;
        try {
          return await fx.cli('apply', '--yes');
        } finally {
          fx.env[variable] = saved;
        }
      })();
      expect(bad.code, `${variable}\n${bad.stderr}`).toBe(2);
      expect(bad.stderr).toMatch(/unencoded "#"/);
      expect(bad.stderr).toMatch(/%23/);
      expect(bad.stderr).not.toContain('pa#ss');
      expect(bad.stderr).not.toMatch(/Invalid URL/);
    }
  });
  it('plans with a target server it cannot log in to, saying so in a warning without the password; apply then stops before changing anything', async () => {
    const fx = await fixture();
    fixtures.push(fx);
    const wrong = new URL(fx.env.BILLING_PG_URL!);
    wrong.password = 'not-the-password-42';
    fx.env.BILLING_PG_URL = wrong.toString();
    const plan = await fx.plan();
    const warning = plan.warnings.find((w) => w.startsWith('server billing-pg could not be asked now'));
    expect(warning).toMatch(/^server billing-pg could not be asked now \(password authentication failed for user "postgres"\): the plan could not check it/);
    expect(JSON.stringify(plan)).not.toContain('not-the-password-42');
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    // A password a server rejects is bad input (exit 2), named with the server and its manifest key, before any run is recorded.
    expect(applied.code, applied.stderr).toBe(2);
    expect(applied.stderr).toContain('fix: check the user and password of servers.billing-pg (${BILLING_PG_URL}), then run apply again');
    expect(applied.stderr + applied.stdout).not.toContain('not-the-password-42');
    expect(await query(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${fx.prefix}cloudphone_%`])).toEqual([{ datname: `${fx.prefix}cloudphone_core` }]);
  });

  it('takes a password left out of a URL from PGPASSFILE, as libpq does, without node-postgres\'s deprecation warning', async () => {
    const fx = await fixture();
    fixtures.push(fx);
    const url = new URL(fx.env.BILLING_PG_URL!);
    const password = decodeURIComponent(url.password);
    const file = join(fx.dir, 'pgpass');
    await writeFile(file, `${url.hostname}:${url.port}:*:${decodeURIComponent(url.username)}:${password.replaceAll('\\', '\\\\').replaceAll(':', '\\:')}\n`, { mode: 0o600 });
    url.password = '';
    const env = { ...fx.env, BILLING_PG_URL: url.toString(), PGPASSFILE: file };
    const planned = await spawnCli(['plan', '-m', fx.manifestFile, '-o', fx.planFile], env).done;
    expect(planned.code, planned.stderr).toBe(0);
    const applied = await spawnCli(['apply', fx.planFile, '--yes'], env).done;
    expect(applied.code, applied.stderr).toBe(0);
    expect(planned.stderr + applied.stderr).not.toMatch(/DeprecationWarning|pgpass support is deprecated/);
    expect((await query(fx.service('billing').url, `SELECT count(*)::int AS n FROM invoices`))[0]!.n).toBeGreaterThan(0);
  });
});
