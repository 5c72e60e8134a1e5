/**
 * Connection strings now live in src/conn (pure, shared with config editing) and
 * scrubbing in src/secrets; these names stay importable from here.
 */
export { redact, withDatabase, databaseOf, userOf, serverOf, withCredentials } from '../conn/connection.js';
export { scrub } from '../secrets/scrubber.js';
