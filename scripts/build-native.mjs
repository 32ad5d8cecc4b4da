// npm's install step: builds the native addon (native/) with node-gyp against
// this Node's headers. Where Node was installed with its headers beside it
// (Debian's nodejs: /usr/bin/node and /usr/include/node), those are used, so
// nothing is downloaded: a machine that reaches only the npm registry cannot
// fetch them from nodejs.org. An npm_config_nodedir set by the caller wins.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** "20.20.2" from a node_version.h, or null when it does not say. */
function headerVersion(file) {
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major && minor && patch ? `${major}.${minor}.${patch}` : null;
}

/** The install prefix of this Node when its own headers sit there (same version), else undefined. */
function localNodedir() {
  const prefix = dirname(dirname(process.execPath));
  const header = join(prefix, 'include/node/node_version.h');
  if (!existsSync(header) || !existsSync(join(prefix, 'include/node/node_api.h'))) return undefined;
  return headerVersion(header) === process.versions.node ? prefix : undefined;
}

const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const nodedir = localNodedir();
  if (nodedir !== undefined) env.npm_config_nodedir = nodedir;
}
// npm hands its own node-gyp to install scripts; run directly, use the project's.
const nodeGyp = env.npm_config_node_gyp || createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--directory=native'], { cwd: root, env, stdio: 'inherit' });
if (result.error !== undefined) {
  console.error(`build-native: cannot run node-gyp (${nodeGyp}): ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(
    'build-native: the native addon did not build. It needs a C compiler, make and python3 ' +
      '(Debian: apt-get install g++ make python3) and Node headers (from nodejs.org, or installed with Node).',
  );
}
process.exit(result.status ?? 1);
