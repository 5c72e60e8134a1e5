import { Chalk, type ChalkInstance } from 'chalk';
import cliSpinners from 'cli-spinners';
import cliTruncate from 'cli-truncate';
import type { ProgressEvent, ProgressSink } from '../../steps/handler.js';
import { formatBytes } from '../../format/byte-size.js';

/** A progress renderer; `close()` flushes what is pending and stops any redraw timer. Safe to call twice. */
export interface ProgressView extends ProgressSink {
  close(): void;
}

export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const SPINNER = cliSpinners.dots.frames;


/** A failed step's error as its line says it: a list of problems (preflight's) only by its first line, the error that ends the command prints all of it. */
function headline(error: string): string {
  const nl = error.indexOf('\n');
  return nl === -1 ? error : `${error.slice(0, nl)} (all of it below)`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function counts(e: { rows?: number; bytes?: number }): string {
  const parts: string[] = [];
  if (e.rows !== undefined) parts.push(`${formatCount(e.rows)} rows`);
  if (e.bytes !== undefined) parts.push(formatBytes(e.bytes));
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** One JSON object per line, each event with a `time` field: for scripts and CI logs. */
export function jsonProgress(stream: ProgressStream): ProgressView {
  return {
    emit: (event) => void stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`),
    close: () => undefined,
  };
}

/**
 * One line per event, for logs (stdout is not a terminal): no colors, no redraws.
 * Progress of a running step is printed at most every `progressEveryMs`; steps found
 * already done are summed into one line.
 */
export function plainProgress(stream: ProgressStream, opts: { progressEveryMs?: number } = {}): ProgressView {
  const every = opts.progressEveryMs ?? 10_000;
  const lastProgress = new Map<string, number>();
  let skipped = 0;
  const write = (line: string) => void stream.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const flushSkipped = () => {
    if (skipped > 0) write(`${skipped} step${skipped === 1 ? '' : 's'} already done`);
    skipped = 0;
  };
  return {
    emit(e: ProgressEvent) {
      if (e.type === 'step-done' && e.skipped) {
        skipped++;
        return;
      }
      flushSkipped();
      switch (e.type) {
        case 'step-start':
          lastProgress.set(e.stepId, Date.now());
          return write(`start  ${e.stepId}: ${e.description}`);
        case 'step-progress': {
          const now = Date.now();
          if (now - (lastProgress.get(e.stepId) ?? 0) < every) return;
          lastProgress.set(e.stepId, now);
          const total = e.rowsEstimate ? ` of ~${formatCount(e.rowsEstimate)}` : '';
          return write(`       ${e.stepId}: ${formatCount(e.rows)}${total} rows, ${formatBytes(e.bytes)}`);
        }
        case 'step-done':
          lastProgress.delete(e.stepId);
          return write(`done   ${e.stepId} in ${formatDuration(e.ms)}${counts(e)}`);
        case 'step-failed':
          lastProgress.delete(e.stepId);
          return write(`FAILED ${e.stepId}: ${headline(e.error)}`);
        case 'log':
          return write(`${e.level === 'warn' ? 'warn' : 'info'}   ${e.message}`);
      }
    },
    close: flushSkipped,
  };
}

interface Running {
  id: string;
  label: string;
  service: string;
  started: number;
  rows: number;
  bytes: number;
  rowsEstimate?: number;
  bytesEstimate?: number;
}

/** `text` cut to `width` terminal columns (wide characters count two), keeping its ANSI escapes intact. */
export function fit(text: string, width: number): string {
  return cliTruncate(text, width, { truncationCharacter: '' });
}

function bar(fraction: number, width: number, c: ChalkInstance): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return c.cyan('█'.repeat(filled)) + c.dim('░'.repeat(width - filled));
}

/**
 * For a terminal: finished steps scroll above a live area redrawn in place, with a
 * line per service (steps done, running) and a bar per running step that reports
 * progress (rows, bytes, rate and ETA from the step's estimate).
 */
export function ttyProgress(
  stream: ProgressStream,
  opts: { color?: boolean; intervalMs?: number; clock?: () => number } = {},
): ProgressView {
  const clock = opts.clock ?? Date.now;
  const color = opts.color ?? (Boolean(stream.isTTY) && !process.env.NO_COLOR);
  const c = new Chalk({ level: color ? 1 : 0 });
  const running = new Map<string, Running>();
  const doneByService = new Map<string, number>();
  let liveLines = 0;
  let frame = 0;
  let skipped = 0;
  let closed = false;

  const width = () => Math.max(40, (stream.columns ?? 100) - 1);
  const clear = () => {
    if (liveLines > 0) stream.write(`\x1b[${liveLines}A\r\x1b[J`);
    liveLines = 0;
  };
  const live = (): string[] => {
    const services = new Set<string>([...doneByService.keys(), ...[...running.values()].map((r) => r.service)]);
    const lines: string[] = [];
    const now = clock();
    for (const service of [...services].sort()) {
      const mine = [...running.values()].filter((r) => r.service === service);
      const doneCount = doneByService.get(service) ?? 0;
      if (mine.length === 0) {
        lines.push(`${c.green('✔')} ${service}  ${c.dim(`${doneCount} done`)}`);
        continue;
      }
      const spin = c.cyan(SPINNER[frame % SPINNER.length]!);
      lines.push(`${spin} ${c.bold(service)}  ${c.dim(`${doneCount} done, ${mine.length} running`)}`);
      for (const r of mine) {
        const elapsed = now - r.started;
        const total = r.bytesEstimate || r.rowsEstimate || 0;
        const current = r.bytesEstimate ? r.bytes : r.rows;
        let text = `    ${r.label.padEnd(28)} `;
        if (r.rows > 0 || r.bytes > 0 || total > 0) {
          const fraction = total > 0 ? Math.min(1, current / total) : 0;
          const rate = elapsed > 0 ? (r.bytes * 1000) / elapsed : 0;
          const perCurrent = elapsed > 0 ? current / elapsed : 0;
          const eta = total > 0 && perCurrent > 0 && current < total ? ` ETA ${formatDuration((total - current) / perCurrent)}` : '';
          text +=
            `${bar(fraction, 20, c)} ${total > 0 ? `${String(Math.floor(fraction * 100)).padStart(3)}%` : '   ?'}` +
            `  ${formatCount(r.rows)} rows  ${formatBytes(r.bytes)}  ${formatBytes(rate)}/s${eta}`;
        } else {
          text += c.dim(`running ${formatDuration(elapsed)}`);
        }
        lines.push(text);
      }
    }
    return lines.map((l) => fit(l, width()));
  };
  const draw = () => {
    if (closed) return;
    clear();
    const lines = live();
    if (running.size > 0 && lines.length > 0) {
      stream.write(`${lines.join('\n')}\n`);
      liveLines = lines.length;
    }
  };
  const print = (line: string) => {
    clear();
    stream.write(`${fit(line, width())}\n`);
    draw();
  };
  const flushSkipped = () => {
    if (skipped > 0) print(c.dim(`✔ ${skipped} step${skipped === 1 ? '' : 's'} already done`));
    skipped = 0;
  };
  const timer = setInterval(() => {
    frame++;
    if (running.size > 0) draw();
  }, opts.intervalMs ?? 120);
  timer.unref();

  return {
    emit(e: ProgressEvent) {
      if (closed) return;
      if (e.type === 'step-done' && e.skipped) {
        skipped++;
        return;
      }
      flushSkipped();
      switch (e.type) {
        case 'step-start':
          running.set(e.stepId, {
            id: e.stepId,
            label: e.table ?? e.kind,
            service: e.service ?? '(split)',
            started: clock(),
            rows: 0,
            bytes: 0,
          });
          return draw();
        case 'step-progress': {
          const r = running.get(e.stepId);
          if (!r) return;
          r.rows = e.rows;
          r.bytes = e.bytes;
          if (e.rowsEstimate !== undefined) r.rowsEstimate = e.rowsEstimate;
          if (e.bytesEstimate !== undefined) r.bytesEstimate = e.bytesEstimate;
          return;
        }
        case 'step-done': {
          const r = running.get(e.stepId);
          running.delete(e.stepId);
          const service = r?.service ?? '(split)';
          doneByService.set(service, (doneByService.get(service) ?? 0) + 1);
          return print(`${c.green('✔')} ${e.stepId} ${c.dim(formatDuration(e.ms))}${c.dim(counts(e))}`);
        }
        case 'step-failed':
          running.delete(e.stepId);
          return print(`${c.red('✖')} ${e.stepId}: ${c.red(headline(e.error))}`);
        case 'log':
          return print(e.level === 'warn' ? c.yellow(`! ${e.message}`) : c.dim(e.message));
      }
    },
    close() {
      if (closed) return;
      flushSkipped();
      clear();
      closed = true;
      clearInterval(timer);
    },
  };
}

/**
 * The renderer for a command's situation: JSON lines under `--json`, bars on a
 * terminal, plain log lines otherwise. Colors only on a terminal, never with
 * `--no-color` (`color: false`) or NO_COLOR. Writes to `stream` (default stderr).
 */
export function chooseProgress(opts: {
  json: boolean;
  color: boolean;
  isTTY: boolean;
  stream?: ProgressStream;
  env?: NodeJS.ProcessEnv;
}): ProgressView {
  const stream = opts.stream ?? process.stderr;
  const env = opts.env ?? process.env;
  if (opts.json) return jsonProgress(stream);
  if (!opts.isTTY) return plainProgress(stream);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return ttyProgress(stream, { color: opts.color && !noColor });
}
