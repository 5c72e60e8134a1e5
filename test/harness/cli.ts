import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

/** Collects what a command writes. */
export class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs the CLI in-process, as `cloudphone-split <args>` with `env`. */
export async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(['node', 'cloudphone-split', ...args], { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
