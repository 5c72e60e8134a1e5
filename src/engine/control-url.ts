import { withDatabase } from '../conn/connection.js';

/** The control database used when the manifest has no `control` (SPEC §1). */
export const CONTROL_DATABASE = 'cloudphone_split';

/** Where the journal lives: `control.url`, or database "cloudphone_split" on the source server. Both URLs expanded. */
export function controlUrlFor(sourceUrl: string, controlUrl: string | null | undefined): string {
  return controlUrl ? controlUrl : withDatabase(sourceUrl, CONTROL_DATABASE);
}
