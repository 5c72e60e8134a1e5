import type { Scrubber } from './scrubber.js';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
const WRAPPED = Symbol('scrubbed');

/**
 * The same stream, with every chunk written through `scrubber` first: what reaches
 * it (human output, JSON, progress events, relayed subprocess output) never carries
 * a known secret. Everything else (isTTY, columns, events) is the stream's own.
 */
export function scrubbingStream<S extends Stream>(stream: S, scrubber: Scrubber): S {
  if ((stream as unknown as Record<symbol, unknown>)[WRAPPED]) return stream;
  return new Proxy(stream, {
    get(target, prop) {
      if (prop === WRAPPED) return true;
      if (prop === 'write') {
        return (chunk: unknown, ...rest: unknown[]) => {
          const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : chunk;
          const clean = typeof text === 'string' ? scrubber.scrub(text) : text;
          // rest: encoding and callback, as the caller gave them.
          return (target.write as (...args: unknown[]) => boolean)(clean, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
