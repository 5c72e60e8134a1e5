import { execFile } from 'node:child_process';
import { BadInputError } from '../errors.js';
import { scrubber } from '../secrets/scrubber.js';

/** How long a password command may run (an IAM token helper answers in seconds). */
const TIMEOUT_MS = 60_000;

/** Every run of a password command, for whoever counts them (nothing about the output). */
let runs = 0;
export function passwordCommandRuns(): number {
  return runs;
}

/**
 * Runs a connection's `passwordCommand` with the shell and returns its standard output,
 * trimmed: the password of one new connection (an IAM token expires, so it is never
 * kept). The value is registered with the scrubber before it is returned. A failure
 * names `server` and the exit status, never the command's output (it may hold the secret).
 */
export async function runPasswordCommand(command: string, server: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  runs++;
  const out = await new Promise<string>((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { env, timeout: TIMEOUT_MS, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string | null };
        const how = e.killed ? `was stopped after ${TIMEOUT_MS / 1000} s` : typeof e.code === 'number' ? `exited with ${e.code}` : e.signal ? `was killed by ${e.signal}` : `could not run (${String(e.code ?? 'error')})`;
        reject(
          new BadInputError(
            `the passwordCommand of ${server} ${how}; its output is not shown`,
            'run the command by hand in the same environment, and check that it prints only the password',
          ),
        );
        return;
      }
      resolve(stdout);
    });
  });
  const password = out.trim();
  if (password === '') {
    throw new BadInputError(`the passwordCommand of ${server} printed nothing`, 'make the command print the password (or token) on its standard output');
  }
  scrubber.add(password);
  return password;
}
