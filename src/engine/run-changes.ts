/**
 * Whether a run may have changed anything, from its steps' states: not while a preflight
 * it has never passed (every step that changes something waits for it), else once any
 * step is done.
 */
export function runChangedAnything(steps: ReadonlyArray<{ kind: string; state: string }>): boolean {
  const preflight = steps.filter((s) => s.kind === 'preflight');
  if (preflight.length > 0 && preflight.every((s) => s.state !== 'done')) return false;
  return steps.some((s) => s.state === 'done');
}
