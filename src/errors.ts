import type { ManifestProblem } from './manifest/model.js';

/** Exit codes of SPEC §2, the one place they are defined. */
export const ExitCode = {
  ok: 0,
  difference: 1,
  badInput: 2,
  stepFailed: 3,
  stalePlan: 4,
  locked: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base of every error the CLI maps to an exit code; `hint` says what to do. */
export class SplitError extends Error {
  readonly exitCode: ExitCode = ExitCode.badInput;
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad arguments, unreadable plan file, unknown server name... */
export class BadInputError extends SplitError {
  override readonly exitCode = ExitCode.badInput;
}

/** All manifest problems at once. */
export class ManifestError extends SplitError {
  override readonly exitCode = ExitCode.badInput;
  constructor(readonly problems: ManifestProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the manifest:\n` +
        problems.map((p) => `  ${p.file}: ${p.path}: ${p.message}\n    fix: ${p.fix}`).join('\n'),
    );
  }
}

/** The plan has blocking problems (exit 1). */
export class PlanBlockedError extends SplitError {
  override readonly exitCode = ExitCode.difference;
}

/** A step failed; rerun apply to resume (a failed preflight asks for its fixes first). */
export class StepFailedError extends SplitError {
  override readonly exitCode = ExitCode.stepFailed;
  /** What the step said, without the "step … failed:" prefix. */
  readonly reason: string;
  constructor(
    readonly stepId: string,
    message: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`step ${stepId} failed: ${message}`, options?.hint ?? 'rerun `cloudphone-split apply` to resume where it stopped', options);
    this.reason = message;
  }
}

/** The source schema changed since the plan was made. */
export class StalePlanError extends SplitError {
  override readonly exitCode = ExitCode.stalePlan;
}

/** Another apply of the same split holds the lock. */
export class LockedError extends SplitError {
  override readonly exitCode = ExitCode.locked;
}

/** Verification found a difference, or rollback refuses because targets changed. */
export class DifferenceError extends SplitError {
  override readonly exitCode = ExitCode.difference;
}

/** A connection or server problem that is not the user's input: maps to 3 during apply. */
export class ServerError extends SplitError {
  override readonly exitCode = ExitCode.stepFailed;
}

/** The user interrupted apply (Ctrl-C): the run is recorded as interrupted; rerun apply to resume. */
export class InterruptedError extends SplitError {
  override readonly exitCode = ExitCode.stepFailed;
}
