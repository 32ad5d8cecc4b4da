import { parseArgs } from 'node:util';
import { describeImage, printable, readAppPolicy, registryDecision, type AppPolicy } from '../core/policy/app-policy';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';

export const REGISTRY_USAGE = `Usage: berth registry check IMAGE [--json]

  check   Is IMAGE allowed by your organization's policy (its allowed registries)?
          For scripts and CI: the answer is the exit code.
          Names are read as Docker reads them: nginx is docker.io/library/nginx,
          index.docker.io is docker.io, host names ignore case.
          --json  print {reference, image, allowed, reason, matchedEntry, policy}

Without an organization policy in force every registry is allowed (and the
answer says so). An expired policy stays in force until a newer one arrives.

Exit codes: 0 allowed, 1 denied (or an error), 64 IMAGE is not a valid image
reference, or bad usage.
`;

function usage(io: CliIO, message: string): number {
  io.err(`berth registry: ${message}\nRun "berth registry --help" for usage.\n`);
  return EXIT.usage;
}

function check(argv: string[], io: CliIO, readPolicy: () => AppPolicy): number {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out(REGISTRY_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) return usage(io, `check takes exactly one IMAGE (got ${positionals.length})`);
  const reference = positionals[0]!;
  const policy = readPolicy();
  const decision = registryDecision(reference, policy);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          reference,
          image: decision.image === null ? null : describeImage(decision.image),
          allowed: decision.allowed,
          reason: decision.reason,
          matchedEntry: decision.matchedEntry,
          policy: {
            state: policy.state,
            reason: policy.reason,
            organization: policy.organization,
            version: policy.version,
            expires: policy.expires,
            allowedRegistries: policy.allowedRegistries,
          },
        },
        null,
        2,
      ) + '\n',
    );
  }
  if (decision.image === null) {
    // Refused, never guessed at: a typo must not pass (or fail) for the wrong reason.
    io.err(
      `berth registry: "${printable(reference)}" is not a valid image reference; expected [registry[:port]/]name[:tag][@digest], with a lowercase name\n`,
    );
    return EXIT.usage;
  }
  if (!values.json) io.out(`${decision.allowed ? 'allowed' : 'denied'}: ${decision.reason}\n`);
  return decision.allowed ? EXIT.ok : EXIT.error;
}

/**
 * `berth registry check IMAGE`: the organization policy's registry allowlist,
 * answered from the helper's cache as this user reads it. `readPolicy` is
 * for tests (another cache or config); the CLI uses the installed ones.
 */
export async function registryCommand(argv: string[], io: CliIO, readPolicy: () => AppPolicy = () => readAppPolicy()): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    io.err(REGISTRY_USAGE);
    return EXIT.usage;
  }
  if (sub === '--help' || sub === '-h') {
    io.out(REGISTRY_USAGE);
    return EXIT.ok;
  }
  if (sub !== 'check') return usage(io, `unknown registry command "${printable(sub)}" (only: check)`);
  try {
    return check(rest, io, readPolicy);
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usage(io, (error as Error).message);
    throw error;
  }
}
