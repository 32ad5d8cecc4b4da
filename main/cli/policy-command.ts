import { readWhole } from '../../common/read-fd';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_POLICY_CACHE_PATH,
  PolicyError,
  generateKeyPair,
  isExpired,
  policyPayloadIssues,
  signPolicy,
  verifyPolicy,
  type PolicyPayload,
  type VerifiedPolicy,
} from '../../common/policy';
import { describePortRules } from '../../common/policy/port-rules';
import { formatDay } from '../../common/text/dates';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

export const PRIVATE_KEY_FILE = 'org-key.pem';
export const PUBLIC_KEY_FILE = 'org-key.pub.pem';

export const POLICY_USAGE = `Usage: berth policy <command> [options]

Tools for an organization's admin: make the org key, sign a policy, check one.
Machines accept a policy only if it is signed by the org key recorded when the
helper was installed. See docs/POLICY.md.

  keygen --out DIR [--json]
            Make a new Ed25519 org key: DIR/${PRIVATE_KEY_FILE} (private, 0600: keep it
            secret, it signs policies) and DIR/${PUBLIC_KEY_FILE} (public, 0644: record
            it at install). Never overwrites an existing key. Prints the key id.
  sign --key ${PRIVATE_KEY_FILE} --in payload.json [--out policy.json]
            Check the payload (every bad field is named), sign it, and write the
            policy document to --out or print it.
  verify --key ${PUBLIC_KEY_FILE} --in policy.json [--at DATE] [--json]
            Check a policy's signature, form and expiry (at DATE, default now) and
            show what it enforces, or why it is invalid.

The helper caches the accepted policy in ${DEFAULT_POLICY_CACHE_PATH} (readable by all).
Exit codes: 0 ok, 1 invalid policy or payload / key error, 64 usage.
`;

/** Largest input file read; a signed policy is at most 60,000 bytes, a payload less. */
const MAX_INPUT_BYTES = 1024 * 1024;

function help(values: { help?: boolean }, io: CliIO): boolean {
  if (values.help) io.out(POLICY_USAGE);
  return values.help === true;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.length === 0) throw new UsageError(`${flag} is required`);
  return value;
}

/** An error the CLI reports in one line, exit 1: a file or key problem, not bad usage. */
class CliFailure extends Error {}

function readInput(path: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new CliFailure(`cannot read ${what} ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CliFailure(`${what} ${path} is not a regular file`);
    if (st.size > MAX_INPUT_BYTES) throw new CliFailure(`${what} ${path} is larger than ${MAX_INPUT_BYTES} bytes`);
    const bytes = readWhole(fd, st.size);
    return bytes.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** O_EXCL: never replace a key (an overwritten org key cannot be recovered, and policies signed by it would be orphaned). */
function createExclusive(path: string, mode: number): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new CliFailure(`${path} already exists; refusing to overwrite a key (move it away first)`);
    }
    throw new CliFailure(`cannot create ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`);
  }
}

function writeAll(fd: number, text: string, mode: number): void {
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written);
  // The umask may have narrowed the mode at open; set exactly what each key file should be.
  fchmodSync(fd, mode);
  fsyncSync(fd);
}

function keygen(argv: string[], io: CliIO): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (help(values, io)) return EXIT.ok;
  const dir = required(values.out, '--out');
  // Private keys live here: a new directory is the admin's alone.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  const privateFd = createExclusive(privatePath, 0o600);
  let publicFd: number;
  try {
    publicFd = createExclusive(publicPath, 0o644);
  } catch (error) {
    // Only the file we just created is removed; the existing one is left as it was.
    closeSync(privateFd);
    unlinkSync(privatePath);
    throw error;
  }
  const pair = generateKeyPair();
  try {
    writeAll(privateFd, pair.privateKeyPem, 0o600);
    writeAll(publicFd, pair.publicKeyPem, 0o644);
  } finally {
    closeSync(privateFd);
    closeSync(publicFd);
  }
  if (values.json) {
    io.out(JSON.stringify({ keyId: pair.keyId, privateKey: privatePath, publicKey: publicPath }, null, 2) + '\n');
  } else {
    io.out(
      table([
        ['Key id', pair.keyId],
        ['Private key', `${privatePath}  (0600; keep it secret and backed up: it signs policies)`],
        ['Public key', `${publicPath}  (record it at install: berth-helper install --org-key ${publicPath})`],
      ]),
    );
  }
  return EXIT.ok;
}

function parseJsonFile(text: string, path: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliFailure(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function sign(argv: string[], io: CliIO): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      key: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (help(values, io)) return EXIT.ok;
  const keyPath = required(values.key, '--key');
  const inPath = required(values.in, '--in');
  const value = parseJsonFile(readInput(inPath, 'payload'), inPath);
  const issues = policyPayloadIssues(value);
  if (issues.length > 0) {
    io.err(`berth: ${inPath} is not a valid policy payload:\n${issues.map((i) => `  - ${i}\n`).join('')}`);
    return EXIT.error;
  }
  const payload = value as PolicyPayload;
  const document = signPolicy(payload, readInput(keyPath, 'key'));
  // Signing is allowed (an admin may prepare one ahead), but the helper would refuse it today.
  if (isExpired(payload, new Date())) io.err(`berth: warning: this policy expired on ${formatDay(payload.expires)}; the helper will refuse it\n`);
  if (values.out === undefined) {
    io.out(`${document}\n`);
  } else {
    writeFileSync(values.out, `${document}\n`, { mode: 0o644 });
    io.out(`Signed ${payload.organization} policy version ${payload.version} (expires ${formatDay(payload.expires)}) → ${values.out}\n`);
  }
  return EXIT.ok;
}

function describe(policy: VerifiedPolicy): string {
  const locked = Object.entries(policy.lockedSettings);
  return (
    table([
      ['Organization', policy.organization],
      ['Version', String(policy.version)],
      ['Issued', formatDay(policy.issued)],
      ['Expires', formatDay(policy.expires)],
      ['Key id', policy.keyId],
    ]) +
    `Allowed registries:\n${policy.allowedRegistries.length === 0 ? '  (none: every image is refused)\n' : policy.allowedRegistries.map((r) => `  ${r}\n`).join('')}` +
    `Locked settings:\n${locked.length === 0 ? '  (none)\n' : locked.map(([k, v]) => `  ${k} = ${JSON.stringify(v)}\n`).join('')}` +
    `Port rules:\n${policy.portRules === undefined ? '  (none)\n' : describePortRules(policy.portRules).map((line) => `  ${line}\n`).join('')}`
  );
}

function verify(argv: string[], io: CliIO): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      key: { type: 'string' },
      in: { type: 'string' },
      at: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (help(values, io)) return EXIT.ok;
  const keyPath = required(values.key, '--key');
  const inPath = required(values.in, '--in');
  const at = values.at === undefined ? new Date() : new Date(values.at);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--at "${values.at}" is not a date`);
  const publicKey = readInput(keyPath, 'key');
  const document = readInput(inPath, 'policy');
  let policy: VerifiedPolicy;
  try {
    policy = verifyPolicy(document, publicKey, at);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    if (values.json) {
      io.out(JSON.stringify({ valid: false, code: error.code, reason: error.reason, message: error.message }, null, 2) + '\n');
    }
    io.err(`berth: ${inPath} is not valid: ${error.message}\n`);
    return EXIT.error;
  }
  if (values.json) {
    const summary = {
      valid: true,
      organization: policy.organization,
      version: policy.version,
      issued: policy.issued,
      expires: policy.expires,
      keyId: policy.keyId,
      allowedRegistries: policy.allowedRegistries,
      lockedSettings: policy.lockedSettings,
      portRules: policy.portRules ?? null,
    };
    io.out(JSON.stringify(summary, null, 2) + '\n');
  } else {
    io.out(describe(policy));
  }
  return EXIT.ok;
}

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

export async function policyCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.out(POLICY_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    switch (sub) {
      case 'keygen':
        return keygen(rest, io);
      case 'sign':
        return sign(rest, io);
      case 'verify':
        return verify(rest, io);
      default:
        throw new UsageError(`unknown policy command "${sub}"`);
    }
  } catch (error) {
    // Key and file problems are the admin's to fix, not usage errors: one line, exit 1.
    if (error instanceof CliFailure || error instanceof PolicyError) {
      io.err(`berth: ${error.message}\n`);
      return EXIT.error;
    }
    throw error;
  }
}
