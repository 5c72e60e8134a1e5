import { corpusSuite } from './helpers/real-corpus-suite.js';

/** test/fixtures/real/services-core: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('services-core');
