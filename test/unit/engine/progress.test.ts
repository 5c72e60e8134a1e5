import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { formatBytes } from '../../../src/format/byte-size.js';
import { chooseProgress, fit, formatDuration, jsonProgress, plainProgress, ttyProgress } from '../../../src/cli/views/progress.js';
import type { ProgressEvent } from '../../../src/steps/handler.js';

class Capture extends Writable {
  text = '';
  isTTY = false;
  columns = 100;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const COLOR = /\x1b\[3\d(;\d+)?m|\x1b\[9\dm/;
const events: ProgressEvent[] = [
  { type: 'step-done', stepId: 'create_database:a', ms: 0, skipped: true },
  { type: 'step-done', stepId: 'create_database:b', ms: 0, skipped: true },
  { type: 'step-start', stepId: 'copy_data:a:public.users', kind: 'copy_data', service: 'user-service', table: 'public.users', description: 'copy public.users' },
  { type: 'step-progress', stepId: 'copy_data:a:public.users', rows: 500, bytes: 512 * 1024, rowsEstimate: 1000, bytesEstimate: 1024 * 1024 },
  { type: 'step-done', stepId: 'copy_data:a:public.users', ms: 1500, rows: 1000, bytes: 1024 * 1024 },
  { type: 'step-failed', stepId: 'grant:a', error: 'permission denied' },
  { type: 'log', level: 'warn', message: 'role exists' },
];

describe('format helpers', () => {
  it('formats bytes, durations and cuts lines without breaking escapes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(125_000)).toBe('2:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(fit('\x1b[32mhello\x1b[39m world', 3)).toBe('\x1b[32mhel\x1b[39m');
    expect(fit('設備テーブル', 5)).toBe('設備');
    expect(fit('short', 10)).toBe('short');
  });
});

describe('jsonProgress', () => {
  it('writes one JSON object per event and line', () => {
    const out = new Capture();
    const view = jsonProgress(out);
    for (const e of events) view.emit(e);
    view.close();
    const lines = out.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(events.length);
    expect(lines[2]).toMatchObject({ type: 'step-start', stepId: 'copy_data:a:public.users', service: 'user-service' });
    expect(typeof lines[0]!.time).toBe('string');
  });
});

describe('plainProgress', () => {
  it('logs one uncolored line per event, summing steps already done', () => {
    const out = new Capture();
    const view = plainProgress(out, { progressEveryMs: 0 });
    for (const e of events) view.emit(e);
    view.close();
    const lines = out.text.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/2 steps already done$/);
    expect(lines[1]).toMatch(/start {2}copy_data:a:public\.users: copy public\.users/);
    expect(lines[2]).toMatch(/500 of ~1,000 rows, 512 KiB/);
    expect(lines[3]).toMatch(/done {3}copy_data:a:public\.users in 1\.5s \(1,000 rows, 1 MiB\)/);
    expect(lines[4]).toMatch(/FAILED grant:a: permission denied/);
    expect(lines[5]).toMatch(/warn {3}role exists/);
    expect(out.text).not.toMatch(/\x1b/);
  });

  it("prints a failed step's list of problems once: its first line here, the whole of it in the error that ends the command", () => {
    const out = new Capture();
    const view = plainProgress(out, { progressEveryMs: 0 });
    view.emit({ type: 'step-failed', stepId: 'preflight:core', error: 'preflight found 2 problems:\n  server source: lacks CREATEDB\n  server source: lacks CREATEROLE' } as (typeof events)[number]);
    view.close();
    expect(out.text.trimEnd()).toMatch(/^\S+ +FAILED preflight:core: preflight found 2 problems: \(all of it below\)$/);
  });
});

describe('ttyProgress', () => {
  it('draws a service line and a bar with rate and ETA, redrawn in place', () => {
    const out = new Capture();
    out.isTTY = true;
    let now = 1_000_000;
    const view = ttyProgress(out, { color: true, intervalMs: 60_000, clock: () => now });
    view.emit(events[2]!);
    now += 2000;
    view.emit(events[3]!);
    view.emit({ type: 'log', level: 'info', message: 'tick' }); // forces a redraw of the live area
    expect(out.text).toMatch(/user-service/);
    expect(out.text).toMatch(/0 done, 1 running/);
    expect(out.text).toMatch(/public\.users +.*█+.*░+.* +50% {2}500 rows {2}512 KiB {2}256 KiB\/s ETA 2\.0s/);
    expect(out.text).toMatch(/\x1b\[\d+A\r\x1b\[J/);
    expect(out.text).toMatch(COLOR);
    view.emit(events[4]!);
    view.close();
    expect(out.text).toMatch(/✔.*copy_data:a:public\.users.*1\.5s/);
    const after = out.text.length;
    view.emit(events[5]!);
    expect(out.text.length).toBe(after);
  });

  it('uses no color when asked', () => {
    const out = new Capture();
    const view = ttyProgress(out, { color: false, intervalMs: 60_000 });
    for (const e of events) view.emit(e);
    view.close();
    expect(out.text).toMatch(/✖ grant:a: permission denied/);
    expect(out.text).not.toMatch(COLOR);
  });
});

describe('chooseProgress', () => {
  const render = (opts: { json: boolean; color: boolean; isTTY: boolean }, env: NodeJS.ProcessEnv = {}) => {
    const out = new Capture();
    const view = chooseProgress({ ...opts, stream: out, env });
    for (const e of events) view.emit(e);
    view.close();
    return out.text;
  };
  it('picks JSON lines, plain lines or the terminal view', () => {
    expect(() => JSON.parse(render({ json: true, color: true, isTTY: true }).split('\n')[0]!)).not.toThrow();
    expect(render({ json: false, color: true, isTTY: false })).toMatch(/^\d\d:\d\d:\d\d 2 steps already done/);
    expect(render({ json: false, color: true, isTTY: true })).toMatch(COLOR);
  });
  it('honours --no-color and NO_COLOR', () => {
    expect(render({ json: false, color: false, isTTY: true })).not.toMatch(COLOR);
    expect(render({ json: false, color: true, isTTY: true }, { NO_COLOR: '1' })).not.toMatch(COLOR);
  });
});
