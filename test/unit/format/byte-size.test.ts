import { describe, expect, it } from 'vitest';
import { formatBytes, parseByteSize } from '../../../src/format/byte-size.js';

describe('byte sizes', () => {
  it('formats 1024-based sizes with binary labels', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(8 * 2 ** 30)).toBe('8 GiB');
  });

  it('parses what PostgreSQL settings accept, 1024-based, and nothing else', () => {
    expect(parseByteSize('16MB')).toBe(16 * 2 ** 20);
    expect(parseByteSize(' 64kB ')).toBe(64 * 1024);
    expect(parseByteSize('1 GB')).toBe(2 ** 30);
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize('12XB')).toBeNull();
    expect(parseByteSize('-5MB')).toBeNull();
    expect(parseByteSize('lots')).toBeNull();
  });
});
