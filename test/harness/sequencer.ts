import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Starts the files known to run longest first, so that two workers finish together instead
 * of one waiting for a long file started last. A fresh clone has no vitest cache, and vitest
 * then orders by file size, which says little about how long a scenario runs.
 * The known durations (seconds, from a full run) are in test/harness/durations.json;
 * `node scripts/test-durations.mjs <report.json>` writes them again.
 */
export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const known = loadDurations(new URL('./durations.json', import.meta.url));
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => known[relative(root, spec.moduleId)] ?? -1;
    // Array.prototype.sort is stable: projects keep their order, files unknown here keep vitest's.
    return sorted
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => {
        const group = a.spec.project.config.sequence.groupOrder - b.spec.project.config.sequence.groupOrder;
        if (group !== 0) return group;
        const known = seconds(b.spec) - seconds(a.spec);
        return known !== 0 ? known : a.index - b.index;
      })
      .map(({ spec }) => spec);
  }
}

function loadDurations(file: URL): Record<string, number> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}
