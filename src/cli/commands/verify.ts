import type { CommonOptions } from '../common.js';
import type { Output } from '../output.js';
import { verifyRun } from '../../run/verify.js';
import type { VerifyResult } from '../../verify/verify.js';

export interface VerifyCommandOptions extends CommonOptions {
  checksums?: boolean;
  health?: boolean;
  jobs?: number;
  format?: 'text' | 'markdown';
  /** `--service`: only these services. */
  service?: string[];
}

/** The command's handler: verify with a spinner on a terminal; the caller renders the result. */
export async function verifyCommand(opts: VerifyCommandOptions, out: Output, env: NodeJS.ProcessEnv): Promise<{ code: number; result: VerifyResult }> {
  const spinner = out.interactive && !out.json ? (await import('ora')).default({ stream: process.stderr }).start('verifying') : null;
  try {
    return await verifyRun(
      {
        ...opts,
        ...(opts.service ? { services: opts.service } : {}),
        onProgress: (msg) => {
          if (spinner) spinner.text = msg;
          else if (out.verbose) out.warn(msg);
        },
      },
      env,
      out,
    );
  } finally {
    spinner?.stop();
  }
}
