// A CLI process started ahead of its use (see warm-cli.ts): loads the built CLI given as
// argv[2] with every command's modules, then reads its arguments (one JSON array on stdin) and runs it as
// bin/cloudphone-split.js does.
import { createInterface } from 'node:readline';

const { main, loadCommands } = await import(process.argv[2]);
await loadCommands();
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const lines = createInterface({ input: process.stdin });
const line = await new Promise((resolve) => {
  lines.once('line', resolve);
  lines.once('close', () => resolve(null));
});
lines.close();
if (line === null) process.exit(0);
const code = await main(['node', 'cloudphone-split', ...JSON.parse(line)]);
process.on('exit', () => {
  process.exitCode = code;
});
process.exitCode = code;
