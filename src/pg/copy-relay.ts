/**
 * COPY streams for piping one server's `COPY ... TO STDOUT` into another's
 * `COPY ... FROM STDIN` with as little work in Node as possible.
 *
 * The server sends one CopyData message per row. `CopyOut` reads them straight off
 * the socket and copies their payloads, back to back, into 256 KiB buffers that
 * already have room for a CopyData header; each full buffer leaves as one framed
 * CopyData message. `CopyIn` writes those buffers to the target's socket as they
 * are. Per row there is no Buffer, no allocation and no stream callback, only a
 * header read and one small copy; per 256 KiB there is one write, and the target
 * reads a few large messages. (pg-copy-streams, used before, makes a Buffer per row.)
 *
 * Both are `pg` submittables: `client.query(new CopyOut(sql))`. Errors from the
 * server reach the stream as an 'error' event; `rowCount` is the server's own count
 * from CommandComplete.
 */
import { Readable, Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type pg from 'pg';

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const ERROR_RESPONSE = 0x45; // 'E'
/** Messages the server may send in the middle of a COPY OUT; skipped. */
const INTERSPERSED = new Set([0x48 /* H CopyOutResponse */, 0x4e /* N notice */, 0x53 /* S parameter status */, 0x41 /* A notification */]);

/** Payload bytes per outgoing CopyData message (plus its 5-byte header). */
export const RELAY_CHUNK = 256 * 1024;

/**
 * Where a relay's time went, each moment counted once: while the target is waited on
 * (its socket full, or the end of the COPY), the moment is the target's even if the
 * source has nothing to hand over either; otherwise, while the source is waited on,
 * the source's. Shared by the two ends of one pipe (`CopyIn`'s `waits` option), the
 * two sums never add up to more than the pipe's time.
 */
export class PipeWaits {
  private source = 0;
  private target = 0;
  private onSource = false;
  private onTarget = false;
  private since: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.since = now();
  }

  private tick(): void {
    const at = this.now();
    if (this.onTarget) this.target += at - this.since;
    else if (this.onSource) this.source += at - this.since;
    this.since = at;
  }

  /** The pipe starts or stops waiting on the source. */
  waitingOnSource(on: boolean): void {
    this.tick();
    this.onSource = on;
  }

  /** The pipe starts or stops waiting on the target. */
  waitingOnTarget(on: boolean): void {
    this.tick();
    this.onTarget = on;
  }

  get sourceMs(): number {
    this.tick();
    return this.source;
  }

  get targetMs(): number {
    this.tick();
    return this.target;
  }
}
const HEADER = 5;

/** What `pg` hands a submittable: its connection, whose raw socket the copy reads and writes. */
interface PgConnection {
  stream: Duplex;
  query(text: string): void;
}

type DataHandler = (chunk: Buffer) => void;

function rowCountOf(msg: unknown): number | null {
  const m = /COPY (\d+)/.exec((msg as { text?: string } | undefined)?.text ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * `COPY ... TO STDOUT` as a Readable of framed CopyData messages, ready for `CopyIn`
 * (not the bare data: use pg-copy-streams for that).
 */
export class CopyOut extends Readable implements pg.Submittable {
  /** Rows, from the server's CommandComplete (0 until the copy ends). */
  rowCount = 0;
  /** CopyData messages seen so far: rows, while the copy runs (binary adds a header and a trailer). */
  messages = 0;
  /** Data bytes passed on so far (without framing). */
  bytes = 0;
  /**
   * Milliseconds the stream was asked for data and had none, the target not waited
   * on meanwhile: time the pipe waited on the source server (reading its table,
   * computing lookups).
   */
  get sourceWaitMs(): number {
    return this.waits.sourceMs;
  }

  /** The pipe's waits: pass them to the `CopyIn` this stream feeds. */
  readonly waits = new PipeWaits();
  private waiting = false;

  private connection: PgConnection | null = null;
  private pgHandler: DataHandler | null = null;
  private readonly onReadable = () => this.pump();
  private wanted = false;
  private pumping = false;
  private finished = false;

  // Decoder state: the header being read (it may straddle socket chunks), then the message body.
  private readonly head = Buffer.alloc(HEADER);
  private headLen = 0;
  private code = 0;
  private remaining = 0;
  private inBody = false;

  private out: Buffer = Buffer.allocUnsafe(HEADER + RELAY_CHUNK);
  /** Buffers `CopyIn` has written and handed back (see `recycle`). */
  private readonly spare: Buffer[] = [];
  private readonly own = new WeakSet<ArrayBufferLike>([this.out.buffer]);
  private outPos = HEADER;

  constructor(readonly text: string) {
    super({ highWaterMark: 2 * (HEADER + RELAY_CHUNK) });
  }

  submit(connection: pg.Connection): void {
    const conn = connection as unknown as PgConnection;
    this.connection = conn;
    const socket = conn.stream;
    const listeners = socket.listeners('data') as DataHandler[];
    if (listeners.length !== 1) throw new Error(`cannot take over the connection: ${listeners.length} data listeners`);
    this.pgHandler = listeners[0]!;
    socket.removeListener('data', this.pgHandler);
    socket.pause();
    socket.on('readable', this.onReadable);
    conn.query(this.text);
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  private pump(): void {
    if (this.pumping || !this.wanted || !this.connection || this.finished) return;
    this.pumping = true;
    try {
      let chunk: Buffer | null;
      while (this.wanted && !this.finished && (chunk = this.connection.stream.read() as Buffer | null) !== null) {
        this.stopWaiting();
        this.parse(chunk);
      }
      // Wanted and nothing to read: the wait on the source starts (stopped by the next chunk).
      if (this.wanted && !this.finished && !this.waiting) {
        this.waiting = true;
        this.waits.waitingOnSource(true);
      }
    } finally {
      this.pumping = false;
    }
  }

  private stopWaiting(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.waits.waitingOnSource(false);
  }

  private parse(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.inBody) {
        const take = Math.min(this.remaining, n - i);
        if (this.code === COPY_DATA) this.append(chunk, i, i + take);
        i += take;
        this.remaining -= take;
        if (this.remaining > 0) continue;
        this.inBody = false;
        if (this.code === COPY_DONE) return this.handBack(chunk.subarray(i), null, true);
        continue;
      }
      // A message header: type byte and int32 length (which counts itself).
      let start = i;
      if (this.headLen === 0 && n - i >= HEADER) {
        this.code = chunk[i]!;
        this.remaining = chunk.readUInt32BE(i + 1) - 4;
        i += HEADER;
      } else {
        const take = Math.min(HEADER - this.headLen, n - i);
        chunk.copy(this.head, this.headLen, i, i + take);
        this.headLen += take;
        i += take;
        if (this.headLen < HEADER) return;
        this.headLen = 0;
        this.code = this.head[0]!;
        this.remaining = this.head.readUInt32BE(1) - 4;
        // The header began in an earlier chunk: give `pg` the whole of it if this message is its business.
        start = -1;
      }
      if (this.code === COPY_DATA) {
        this.messages++;
      } else if (this.code !== COPY_DONE && !INTERSPERSED.has(this.code)) {
        // An error (or anything unexpected): `pg` parses it and the rest, and reports it to handleError.
        const rest = start >= 0 ? chunk.subarray(start) : Buffer.concat([this.head, chunk.subarray(i)]);
        return this.handBack(rest, this.code === ERROR_RESPONSE ? null : new Error(`unexpected message ${String.fromCharCode(this.code)} during COPY OUT`));
      }
      this.inBody = true;
      if (this.remaining === 0) {
        this.inBody = false;
        if (this.code === COPY_DONE) return this.handBack(chunk.subarray(i), null, true);
      }
    }
  }

  private allocate(): Buffer {
    const b = Buffer.allocUnsafe(HEADER + RELAY_CHUNK);
    this.own.add(b.buffer);
    return b;
  }

  /**
   * Takes back a message this stream sent, once it has been written out (CopyIn's
   * `recycle` option), so that a long copy reuses a few buffers instead of leaving
   * V8 one to collect per 256 KiB: its peak memory stays flat.
   */
  recycle(sent: Buffer): void {
    if (!this.own.has(sent.buffer) || this.spare.length >= 4) return;
    this.spare.push(Buffer.from(sent.buffer, 0, HEADER + RELAY_CHUNK));
  }

  /** Copies payload bytes into the outgoing buffer, sending it each time it fills. */
  private append(src: Buffer, from: number, to: number): void {
    while (from < to) {
      const take = Math.min(this.out.length - this.outPos, to - from);
      src.copy(this.out, this.outPos, from, from + take);
      this.outPos += take;
      from += take;
      if (this.outPos === this.out.length) this.send();
    }
  }

  private send(): void {
    if (this.outPos === HEADER) return;
    const out = this.out;
    out[0] = COPY_DATA;
    out.writeUInt32BE(this.outPos - 1, 1);
    this.bytes += this.outPos - HEADER;
    const framed = out.subarray(0, this.outPos);
    this.out = this.spare.pop() ?? this.allocate();
    this.outPos = HEADER;
    if (!this.push(framed)) this.wanted = false;
  }

  /**
   * The copy is over (CopyDone, or a message for `pg`): the socket goes back to `pg`
   * with the bytes not read. After CopyDone the stream ends once CommandComplete has
   * given the row count; after an error `pg` calls handleError.
   */
  private handBack(rest: Buffer, error: Error | null = null, done = false): void {
    this.finished = true;
    this.stopWaiting();
    const socket = this.connection!.stream;
    socket.removeListener('readable', this.onReadable);
    const handler = this.pgHandler!;
    socket.on('data', handler);
    if (done) this.send();
    this.ending = done;
    if (rest.length > 0) handler(rest);
    process.nextTick(() => socket.resume());
    if (error) this.destroy(error);
  }

  private ending = false;

  handleError(err: Error): void {
    this.destroy(err);
  }

  handleCommandComplete(msg: unknown): void {
    this.rowCount = rowCountOf(msg) ?? this.rowCount;
    if (this.ending) {
      this.ending = false;
      this.push(null);
    }
  }

  handleReadyForQuery(): void {
    this.connection = null;
    if (this.ending) {
      this.ending = false;
      this.push(null);
    }
  }
}

/**
 * `COPY ... FROM STDIN` as a Writable of framed CopyData messages (what `CopyOut`
 * emits), written to the socket as they are. It finishes after the server's
 * ReadyForQuery, so the rows are in when 'finish' fires; `destroy()` sends
 * CopyFail, which rolls the COPY back.
 */
export class CopyIn extends Writable implements pg.Submittable {
  /** Rows the server stored, from its CommandComplete. */
  rowCount = 0;
  /**
   * Milliseconds the pipe waited on the target server: its socket full (the server
   * not reading as fast as data came), and from the end of the data to its answer.
   */
  get targetWaitMs(): number {
    return this.waits.targetMs;
  }

  private readonly waits: PipeWaits;
  private final = false;

  private connection: PgConnection | null = null;
  private ready = false;
  private pending: Array<() => void> = [];
  private onDone: ((err?: Error | null) => void) | null = null;
  /** A destroy waiting for the server to confirm the CopyFail. */
  private failed: { err: Error | null; cb: (err?: Error | null) => void } | null = null;

  /**
   * `recycle`: called with each chunk once it is written (pass `copyOut.recycle`);
   * `waits`: the feeding `CopyOut`'s (`copyOut.waits`), so that a moment both ends
   * wait is counted once.
   */
  constructor(
    readonly text: string,
    private readonly opts: { recycle?: (written: Buffer) => void; waits?: PipeWaits } = {},
  ) {
    super({ highWaterMark: 4 * (HEADER + RELAY_CHUNK) });
    this.waits = opts.waits ?? new PipeWaits();
  }

  submit(connection: pg.Connection): void {
    this.connection = connection as unknown as PgConnection;
    this.connection.query(this.text);
  }

  /** Runs `fn` once the server is ready for data (CopyInResponse). */
  private whenReady(fn: () => void): void {
    if (this.ready) fn();
    else this.pending.push(fn);
  }

  private writeSocket(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const socket = this.connection?.stream;
    if (!socket) return cb(new Error('the target connection is gone'));
    const recycle = this.opts.recycle;
    // The write callback runs once the socket is done with the bytes: the buffer may be reused.
    const written = socket.write(chunk, recycle ? (err) => !err && recycle(chunk) : undefined);
    if (written) return cb();
    this.waits.waitingOnTarget(true);
    socket.once('drain', () => {
      this.waits.waitingOnTarget(false);
      cb();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.whenReady(() => this.writeSocket(chunk, cb));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.onDone = cb;
    this.final = true;
    this.waits.waitingOnTarget(true);
    this.whenReady(() => this.connection?.stream.write(Buffer.from([COPY_DONE, 0, 0, 0, 4])));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Finished, or the server already reported an error: nothing to cancel.
    if (!this.connection) return cb(err);
    // CopyFail: the server answers with an error (handleError calls `cb`), and the COPY is rolled back.
    this.failed = { err, cb };
    const reason = Buffer.from(`${err?.message ?? 'copy cancelled'}\0`, 'utf8');
    const msg = Buffer.allocUnsafe(HEADER + reason.length);
    msg[0] = COPY_FAIL;
    msg.writeUInt32BE(4 + reason.length, 1);
    reason.copy(msg, HEADER);
    this.whenReady(() => this.connection?.stream.write(msg));
  }

  handleCopyInResponse(): void {
    this.ready = true;
    const waiting = this.pending;
    this.pending = [];
    for (const fn of waiting) fn();
  }

  handleError(err: Error): void {
    this.connection = null;
    const failed = this.failed;
    this.failed = null;
    if (failed) failed.cb(failed.err ?? err);
    else this.destroy(err);
  }

  handleCommandComplete(msg: unknown): void {
    this.rowCount = rowCountOf(msg) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    this.connection = null;
    if (this.final) this.waits.waitingOnTarget(false);
    this.final = false;
    const cb = this.onDone;
    this.onDone = null;
    cb?.();
  }
}
