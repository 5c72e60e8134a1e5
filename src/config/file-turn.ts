/**
 * The edits of one config file shared by several services (a root `atlas.hcl`) form a
 * chain in plan order: each repoint_config step's edits start from the content the
 * previous step's edits left (its `beforeHash`). Steps that share a file no longer wait
 * for each other's whole step (restart command and write probe included): only their
 * writes of that file take turns, here, in one process. A step whose file still holds
 * a state of the chain before its own waits until the file is written by someone else
 * in this process (or `timeoutMs` passes); reading, editing and writing one file is
 * done under its lock, so two steps never edit the same content.
 */

const locks = new Map<string, Promise<void>>();
const waiting = new Map<string, Set<() => void>>();

/** Runs `work` alone for `path` (by resolved path) within this process. */
export async function underFileLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  const before = locks.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = before.then(() => mine);
  locks.set(path, chained);
  await before;
  try {
    return await work();
  } finally {
    release();
    if (locks.get(path) === chained) locks.delete(path);
  }
}

/** Tells the steps waiting for `path` that it was written (or that a writer gave up): they look again. */
export function fileWritten(path: string): void {
  const set = waiting.get(path);
  if (!set) return;
  waiting.delete(path);
  for (const wake of set) wake();
}

/** Resolves at the next `fileWritten(path)`, after `timeoutMs`, or when `signal` aborts; true when woken by a write. */
export function nextWrite(path: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    let set = waiting.get(path);
    if (!set) waiting.set(path, (set = new Set()));
    const done = (written: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      set.delete(wake);
      resolve(written);
    };
    const wake = () => done(true);
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    set.add(wake);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
