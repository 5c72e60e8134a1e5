import { closest } from './closest.js';
import type { CopyMethod, Manifest, ServiceSpec } from './model.js';
import type { Section } from './section.js';

export const COPY_METHODS: readonly CopyMethod[] = ['relay', 'server'];

/**
 * `copy: relay | server` (top level or in a service); undefined when absent. A
 * problem names the key path and what to write instead.
 */
export function readCopyMethod(sec: Section): CopyMethod | undefined {
  const v = sec.optional('copy', 'copy: relay');
  if (v === null || v === undefined) return undefined;
  if (v === 'relay' || v === 'server') return v;
  const near = closest(v, [...COPY_METHODS], 3);
  sec.problems.add(
    sec.at('copy'),
    `copy must be relay (rows travel through this tool) or server (each target server pulls its tables from the source), not ${JSON.stringify(v)}`,
    `write copy: ${near ?? 'relay'}`,
  );
  return undefined;
}

/** How a service's tables are copied: its own `copy`, else the manifest's, else relay. */
export function copyMethodOf(manifest: Pick<Manifest, 'copy'>, service: Pick<ServiceSpec, 'copy'>): CopyMethod {
  return service.copy ?? manifest.copy ?? 'relay';
}
