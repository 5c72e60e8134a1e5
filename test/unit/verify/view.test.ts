import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { makeOutput } from '../../../src/cli/output.js';
import { renderVerify, verifyJson } from '../../../src/cli/views/verify.js';
import type { VerifyResult } from '../../../src/verify/verify.js';

function capture(opts: { json?: boolean; tty?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const sink = (write: (s: string) => void) =>
    Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          write(chunk.toString());
          cb();
        },
      }),
      { isTTY: opts.tty ?? false },
    );
  const out = makeOutput({ json: opts.json }, sink((s) => (stdout += s)), sink((s) => (stderr += s)), { TERM: 'xterm' });
  return { out, text: () => ({ stdout, stderr }) };
}

const result: VerifyResult = {
  ok: false,
  checks: [
    { kind: 'rowcount', service: 'users', table: 'public.users', ok: true, source: 3, target: 3, detail: '3 rows on both sides' },
    { kind: 'checksum', service: 'users', table: 'public.users', ok: false, source: { rows: 3, sum: '1' }, target: { rows: 3, sum: '2' }, detail: 'checksums differ: rows differ at id=17 (changed)', keys: [{ id: '17' }] },
    { kind: 'orphans', service: 'devices', table: 'public.devices', ok: true, target: { rows: 2, keys: 1 }, detail: '2 rows (1 distinct keys) ... have no referenced row' },
    { kind: 'config', ok: true, detail: 'not applicable: no config entries' },
  ],
};

describe('verify view', () => {
  it('keeps the SPEC JSON shape, with keys when found', () => {
    const json = verifyJson(result);
    expect(json.ok).toBe(false);
    expect(json.checks[1]).toEqual({
      kind: 'checksum',
      service: 'users',
      table: 'public.users',
      ok: false,
      source: { rows: 3, sum: '1' },
      target: { rows: 3, sum: '2' },
      detail: 'checksums differ: rows differ at id=17 (changed)',
      keys: [{ id: '17' }],
    });
    expect(Object.keys(json.checks[3]!)).toEqual(['kind', 'ok', 'detail']);
  });

  it('prints one table per service, each difference with what to do, and a verdict', () => {
    const { out, text } = capture();
    renderVerify(result, out);
    const { stdout } = text();
    expect(stdout).toContain('service devices  ok');
    expect(stdout).toContain('service users  1 difference');
    expect(stdout).toMatch(/✗ checksum\s+public\.users\s+checksums differ: rows differ at id=17/);
    expect(stdout).toMatch(/→ the listed rows differ/);
    expect(stdout).toMatch(/i orphans\s+public\.devices/);
    expect(stdout).toContain('verify: 1 of 4 checks found a difference');
    expect(stdout.indexOf('service devices')).toBeLessThan(stdout.indexOf('service users'));
    expect(stdout.indexOf('service users')).toBeLessThan(stdout.indexOf('split'));
    expect(stdout).not.toMatch(/\u001b\[/);
  });

  it('colours differences red on a terminal, and sends human text to stderr under --json', () => {
    const tty = capture({ tty: true });
    renderVerify(result, tty.out);
    expect(tty.text().stdout).toContain('\u001b[31m');
    const json = capture({ json: true });
    renderVerify({ ok: true, checks: [result.checks[0]!] }, json.out);
    expect(json.text().stdout).toBe('');
    expect(json.text().stderr).toContain('verify: all 1 checks passed');
  });
});
