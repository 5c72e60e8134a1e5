import { corpusSuite } from './helpers/real-corpus-suite.js';

/** test/fixtures/real/pagila: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('pagila', { from15to18: true });
