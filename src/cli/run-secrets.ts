import { readFileSync } from 'node:fs';
import { connectionSecrets, looksLikeConnection } from '../secrets/connection-secrets.js';
import { manifestTextSecrets } from '../secrets/manifest-secrets.js';
import type { Scrubber } from '../secrets/scrubber.js';
import { DEFAULT_MANIFEST } from './common.js';

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The value of `-m x`, `--manifest x` or `--manifest=x` in argv. */
function manifestArg(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-m' || a === '--manifest') && i + 1 < argv.length) return argv[i + 1]!;
    if (a.startsWith('--manifest=')) return a.slice('--manifest='.length);
  }
  return null;
}

/**
 * Registers the run's secrets before the command parses anything, so that the first
 * line printed (an error in the arguments, the manifest or the plan file included) is
 * already scrubbed: passwords of connection strings given as arguments (`init --from`),
 * PGPASSWORD, and what the manifest (and every plan file named in the arguments)
 * references: see manifestTextSecrets.
 */
export function registerRunSecrets(argv: string[], env: NodeJS.ProcessEnv, scrubber: Scrubber): void {
  scrubber.add(env.PGPASSWORD);
  for (const arg of argv) {
    const value = /^--[a-z-]+=/.test(arg) ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (looksLikeConnection(value)) for (const s of connectionSecrets(value)) scrubber.add(s);
  }
  const texts: string[] = [];
  const manifest = readText(manifestArg(argv) ?? DEFAULT_MANIFEST);
  if (manifest !== null) texts.push(manifest);
  for (const arg of argv) {
    if (!arg.endsWith('.json')) continue;
    const text = readText(arg);
    if (text === null) continue;
    try {
      const plan = JSON.parse(text) as { manifest?: { text?: unknown } };
      if (typeof plan?.manifest?.text === 'string') texts.push(plan.manifest.text);
    } catch {
      // not a plan file: its own error says so
    }
  }
  for (const text of texts) for (const s of manifestTextSecrets(text, env)) scrubber.add(s);
}
