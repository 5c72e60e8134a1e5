import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../integration/helpers/cli.js';
import { mdBlock, mdCell, mdCode, mdCodeCell } from '../../../src/cli/views/markdown.js';
import { verifyMarkdown } from '../../../src/cli/views/verify-markdown.js';
import type { VerifyResult } from '../../../src/verify/verify.js';

const root = join(import.meta.dirname, '../../..');
const golden = (name: string): string => join(root, 'test/fixtures/markdown', name);

/** Compares with the committed golden file (`UPDATE_EXAMPLES=1` rewrites it for review). */
async function expectGolden(text: string, name: string): Promise<void> {
  if (process.env.UPDATE_EXAMPLES === '1') await writeFile(golden(name), text);
  expect(text, `${name} is stale: rerun with UPDATE_EXAMPLES=1 and review the diff`).toBe(await readFile(golden(name), 'utf8'));
}

describe('plan --format markdown', () => {
  it('renders the committed sample plan as a pull-request comment (golden file), with nothing else on stdout', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'cps-md-')), 'plan.json');
    const r = await runCli(
      ['plan', '-m', join(root, 'plans/split.yaml'), '--schema', join(root, 'plans/cloudphone.schema.json'), '-o', out, '--format', 'markdown'],
      { CLOUDPHONE_CORE_URL: 'postgres://nobody@127.0.0.1:1/cloudphone_core' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Plan written to');
    expect(r.stdout).not.toContain('Plan written to');
    expect(r.stdout).toMatch(/^### cloudphone-split plan: `cloudphone` \(offline\)/);
    expect(r.stdout).toContain('#### Foreign keys dropped');
    await expectGolden(r.stdout, 'cloudphone.plan.md');
  });

  it('refuses an unknown format with exit 2', async () => {
    const r = await runCli(['plan', '--format', 'html'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/markdown/);
  });
});

describe('verify --format markdown', () => {
  const result: VerifyResult = {
    ok: false,
    checks: [
      { kind: 'rowcount', service: 'billing-service', table: 'public.invoices', ok: true, source: 3, target: 3, detail: '3 rows' },
      { kind: 'checksum', service: 'billing-service', table: 'public.invoices', ok: false, detail: 'rows differ at id=17 (changed)' },
      { kind: 'rowcount', service: 'device-service', table: 'public."odd|name"', ok: true, source: 1, target: 1, detail: '1 row' },
      { kind: 'sequence', service: 'device-service', table: 'public.devices_id_seq', ok: true, detail: '41 >= 41' },
      { kind: 'schema', service: 'device-service', table: 'public."odd|name"', ok: false, detail: 'column x: missing in target' },
      { kind: 'fence', ok: false, table: 'public.devices', detail: 'an INSERT was accepted' },
    ],
  } as VerifyResult;

  it('lists failures first with what to do, then one line per service (golden file)', async () => {
    const md = verifyMarkdown(result);
    expect(md.indexOf('rows differ at id=17')).toBeLessThan(md.indexOf('| service | passed |'));
    expect(md).toContain('| ✗ | device-service | 1 rowcount, 1 sequence | 1 |');
    expect(md).toContain('`public."odd\\|name"`');
    await expectGolden(md, 'verify-failures.md');
  });

  it('says so in one line when everything passed', () => {
    const md = verifyMarkdown({ ok: true, checks: result.checks.filter((c) => c.ok) } as VerifyResult);
    expect(md.split('\n')[0]).toBe('### cloudphone-split verify: all 3 checks passed');
    expect(md).not.toContain('What to do');
  });
});

describe('Markdown escaping', () => {
  it('keeps table cells, code spans and blocks intact whatever the names hold', () => {
    expect(mdCell('a|b\nc')).toBe('a\\|b c');
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x')).toBe('`` `x ``');
    expect(mdCodeCell('a|b')).toBe('`a\\|b`');
    expect(mdBlock('```\ninside', 'diff')).toBe('````diff\n```\ninside\n````');
  });
});
