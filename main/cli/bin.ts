import { runCli } from './cli';
import { processIO } from './io';

// Entry point of the `berth` command (bundled to dist/cli/berth.js).
runCli(process.argv.slice(2), processIO).then((code) => {
  process.exitCode = code;
});
