import { basename } from 'node:path';
import { programForName, unknownNameMessage } from './program';

// Entry of Berth's single executable (bundled to dist/sea-bundle/berth.js by
// scripts/build.mjs, made a SEA by scripts/build-helper.mjs). The name is
// that of process.execPath: the file the kernel ran (Linux: /proc/self/exe;
// macOS: the executable's path), with symlinks resolved. argv[0] would be
// whatever the caller chose, and a symlink named berth-helper must not make
// the CLI's file act as the helper.
//
// Each program is imported lazily: esbuild turns these import()s into
// initializers that run only when called, so the root helper never runs the
// CLI's modules (nor the CLI the helper's).
const name = basename(process.execPath);
const program = programForName(name);
if (program === 'helper') {
  void import('../helper/bin');
} else if (program === 'cli') {
  void import('../main/cli/bin');
} else {
  process.stderr.write(unknownNameMessage(name));
  process.exitCode = 64;
}
