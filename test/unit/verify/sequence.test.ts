import { describe, expect, it } from 'vitest';
import { nextValue, sequenceOk } from '../../../src/verify/sequence.js';

describe('sequence check', () => {
  it('compares the next values', () => {
    expect(nextValue({ lastValue: '10', isCalled: true }, 1n)).toBe(11n);
    expect(nextValue({ lastValue: '10', isCalled: false }, 1n)).toBe(10n);
  });
  it('accepts a target at or past the source', () => {
    expect(sequenceOk({ lastValue: '3000', isCalled: true }, { lastValue: '3000', isCalled: true }, 1n)).toBe(true);
    expect(sequenceOk({ lastValue: '3000', isCalled: true }, { lastValue: '5000', isCalled: false }, 1n)).toBe(true);
  });
  it('rejects a target behind the source, including one set but not called at the same value', () => {
    expect(sequenceOk({ lastValue: '3000', isCalled: true }, { lastValue: '10', isCalled: true }, 1n)).toBe(false);
    expect(sequenceOk({ lastValue: '3000', isCalled: true }, { lastValue: '3000', isCalled: false }, 1n)).toBe(false);
  });
  it('accepts a fresh target when the source was never called', () => {
    expect(sequenceOk({ lastValue: '1', isCalled: false }, { lastValue: '1', isCalled: false }, 1n)).toBe(true);
  });
  it('reads "past" downwards for descending sequences', () => {
    expect(sequenceOk({ lastValue: '-100', isCalled: true }, { lastValue: '-150', isCalled: true }, -1n)).toBe(true);
    expect(sequenceOk({ lastValue: '-100', isCalled: true }, { lastValue: '-50', isCalled: true }, -1n)).toBe(false);
  });
});
