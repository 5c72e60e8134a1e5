import { corpusSuite } from './helpers/real-corpus-suite.js';

/** test/fixtures/real/generated: see test/fixtures/real/README.md for where it comes from. */
// 1,000 tables make thousands of journaled steps: one split (within PostgreSQL 15, under the
// strict oracle) is enough; PostgreSQL 18 is covered by the other corpora.
corpusSuite('generated', { on18: false, timeout: 600_000, oracleSelfCheck: true });
