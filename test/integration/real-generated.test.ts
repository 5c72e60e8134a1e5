import { corpusSuite } from './helpers/real-corpus-suite.js';

/** test/fixtures/real/generated: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('generated');
