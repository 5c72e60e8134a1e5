import { expect } from 'vitest';
import { stringify } from 'yaml';
import { ManifestError } from '../../../src/errors.js';
import { parseManifest } from '../../../src/manifest/load.js';
import type { ManifestProblem } from '../../../src/manifest/model.js';

/** A plain-object manifest that parses without problems; tests break one part of it. */
export function baseManifest(): Record<string, unknown> {
  return {
    version: 1,
    name: 'cloudphone',
    source: { url: '${CLOUDPHONE_CORE_URL}' },
    services: {
      'user-service': {
        database: 'cloudphone_user',
        role: { name: 'cloudphone_user_svc', password: '${USER_DB_PASSWORD}' },
        tables: ['users', 'permissions'],
      },
      'device-service': { database: 'cloudphone_device', tables: ['devices'] },
    },
  };
}

export function toYaml(doc: unknown): string {
  return stringify(doc);
}

/** Every problem thrown for `text` (fails the test when it parses). */
export function problemsOf(text: string, file = 'plans/split.yaml'): ManifestProblem[] {
  try {
    parseManifest(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).problems;
  }
  throw new Error('expected a ManifestError, the manifest parsed');
}

/** Runs `fn` and returns the ManifestError's problems. */
export function thrownProblems(fn: () => unknown): ManifestProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).problems;
  }
  throw new Error('expected a ManifestError');
}

export const paths = (problems: ManifestProblem[]): string[] => problems.map((p) => p.path);
