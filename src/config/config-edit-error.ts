import { BadInputError } from '../errors.js';
import type { ManifestProblem } from '../manifest/model.js';

/**
 * A config entry that cannot be applied to its file: a missing key or path, a value
 * that is not a string, no postgres URL to rewrite, an unreadable file. Raised at plan
 * time (exit 2). `file` and `entry` may be empty when raised by a pure editor; the
 * caller that knows them adds them with `at()`. Messages never hold a password.
 */
export class ConfigEditError extends BadInputError {
  constructor(
    readonly problem: string,
    /** What to do about it. */
    readonly fix: string,
    readonly file = '',
    /** The entry as displayed: `DB_DATABASE=`, `database.name`, `replace '...'`. */
    readonly entry = '',
    options?: { cause?: unknown },
  ) {
    super(`${file ? `${file}: ` : ''}${entry ? `${entry}: ` : ''}${problem}`, fix, options);
  }

  /** The same error located in `file` at `entry` (kept as is when already located). */
  at(file: string, entry: string): ConfigEditError {
    if (this.file) return this;
    return new ConfigEditError(this.problem, this.fix, file, entry, { cause: this.cause });
  }

  /** As a manifest problem at `path` (e.g. `services.user-service.config[0]`) of `manifestFile`. */
  toProblem(manifestFile: string, path: string): ManifestProblem {
    return { file: manifestFile, path, message: `${this.file}: ${this.entry ? `${this.entry}: ` : ''}${this.problem}`, fix: this.fix };
  }
}

/** Several config problems at once (the planner reports them all, not the first only). */
export class ConfigEditErrors extends BadInputError {
  constructor(readonly errors: ConfigEditError[]) {
    super(
      `${errors.length} config problem${errors.length === 1 ? '' : 's'}:\n` +
        errors.map((e) => `  ${e.message}\n    fix: ${e.fix}`).join('\n'),
    );
  }
}
