import { createInterface } from 'node:readline/promises';
import { BadInputError } from '../errors.js';
import type { Io } from './io.js';

/** The streams consent needs: the answer is read from stdin, the question written to stderr. */
export type Terminal = Pick<Io, 'stdin' | 'stdout' | 'stderr'>;

/**
 * A session someone can answer: stdin, stdout and stderr are all terminals. CI, a pipe
 * into the command, or its output piped on (`| tee`) are not.
 */
export function isInteractive(term: Terminal): boolean {
  return Boolean(term.stdin.isTTY && term.stdout.isTTY && term.stderr.isTTY);
}

export interface ConsentRequest {
  /** What would change, for the refusal: "apply drops and creates databases". */
  action: string;
  /** The question asked on a terminal; the answer must be "yes". */
  question: string;
  /** The flag that gives consent without asking. */
  flag?: string;
}

/**
 * Consent before the first change (like Terraform's -auto-approve): given by the flag,
 * or asked once on a terminal. Without a terminal to ask on it refuses (exit 2) and
 * names the flag; nothing has been changed at that point. Returns false when the
 * answer was not "yes".
 */
export async function consent(term: Terminal, given: boolean | undefined, req: ConsentRequest): Promise<boolean> {
  if (given) return true;
  const flag = req.flag ?? '--yes';
  if (!isInteractive(term)) {
    throw new BadInputError(`${req.action}, and asks first, but there is no terminal to ask on: nothing was changed`, `add ${flag} to go on without asking`);
  }
  const rl = createInterface({ input: term.stdin, output: term.stderr, terminal: false });
  try {
    return (await rl.question(`${req.question} Type "yes" to go on: `)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}
