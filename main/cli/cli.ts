import { BERTH_VERSION } from '../../common/app-version';
import { EXIT } from './exit-codes';
import { helperCommand } from './helper-command';
import { policyCommand } from './policy-command';
import { UsageError, type CliIO } from './io';

export const USAGE = `berth ${BERTH_VERSION} — ports below 1024, CLI tools and hosts entries without running as root

Usage: berth <command> [options]

Commands:
  helper status     Is the privileged helper installed and running? (berth helper --help)
  policy            Admin tools: make the org key, sign and verify policies (berth policy --help)

Options:
  --help, -h        Show help (also after any command)
  --version         Print the version
`;

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.err(USAGE);
        return EXIT.usage;
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return EXIT.ok;
      case '--version':
        io.out(`${BERTH_VERSION}\n`);
        return EXIT.ok;
      case 'helper':
        return await helperCommand(rest, io);
      case 'policy':
        return await policyCommand(rest, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`berth: ${(error as Error).message}\nRun "berth --help" for usage.\n`);
      return EXIT.usage;
    }
    io.err(`berth: ${(error as Error).message}\n`);
    return EXIT.error;
  }
}
