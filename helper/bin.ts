import { main } from './cli';

// Entry point of the berth-helper executable (bundled to dist/helper/berth-helper.js and into the SEA).
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`berth-helper: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
