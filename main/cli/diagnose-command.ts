import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError } from '../../common/api/backend-api';
import type { Capabilities } from '../../common/api/capabilities';
import type { InstallLayout } from '../../common/paths';
import type { UserPaths } from '../../common/user-paths';
import type { HelperClient } from '../helper-client';
import { createDiagnosticsArchive, DEFAULT_TRACE_SECONDS, MAX_TRACE_SECONDS } from '../core/diagnostics/archive';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

export const DIAGNOSE_USAGE = `Usage: berth diagnose [--out DIR] [--trace-seconds N] [--json]

  Gathers one archive to send to whoever helps you: Berth's and the helper's
  logs, the audit log, the capabilities report, your settings and port
  mappings, Berth's hosts block, the install's state and, where the helper
  runs, a privileged trace of Berth's processes. Secrets (tokens, passwords,
  private keys) are removed before anything is written. Progress goes to
  stderr; the archive's path is printed on stdout.

  --out DIR            where to put the archive (default: your home folder)
  --trace-seconds N    how long the privileged trace runs, 0 to ${MAX_TRACE_SECONDS} (default ${DEFAULT_TRACE_SECONDS}; 0 skips it)
  --json               print {path, files, skipped} as JSON instead of the path

Exit codes: 0 the archive was written, 1 it was not (the reason is printed), 64 bad arguments.
`;

export interface DiagnoseDeps {
  capabilities: () => Promise<Capabilities>;
  userPaths: Pick<UserPaths, 'settingsPath' | 'mappingsPath' | 'logDir' | 'diagnosticsDir'>;
  /** Connects to the helper for the trace (main/core/diagnostics/sources.ts helperConnector). */
  helper?: () => Promise<HelperClient | undefined>;
  layout?: InstallLayout;
  hostsPath?: string;
  /** Draw a bar instead of one line per step; default: whether stderr is a terminal. */
  stderrIsTTY?: boolean;
  /** For --out relative paths; default process.cwd(). */
  cwd?: string;
}

export async function diagnoseCommand(argv: string[], io: CliIO, deps: DiagnoseDeps): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      'trace-seconds': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(DIAGNOSE_USAGE);
    return EXIT.ok;
  }
  const seconds = parseSeconds(values['trace-seconds']);
  if (values.out === '') throw new UsageError('--out needs a folder');
  const outDir = values.out === undefined ? deps.userPaths.diagnosticsDir : resolve(deps.cwd ?? process.cwd(), values.out);
  const progress = progressPrinter(io, deps.stderrIsTTY ?? process.stderr.isTTY === true);
  try {
    const result = await createDiagnosticsArchive({
      outDir,
      capabilities: await deps.capabilities(),
      settingsPath: deps.userPaths.settingsPath,
      mappingsPath: deps.userPaths.mappingsPath,
      appLogDir: deps.userPaths.logDir,
      helper: deps.helper,
      traceSeconds: seconds,
      layout: deps.layout,
      hostsPath: deps.hostsPath,
      onProgress: progress.update,
    });
    progress.finish();
    if (result.skipped.length > 0) {
      io.err(`${result.skipped.length} source(s) not included (the archive's manifest.json says why):\n`);
      for (const s of result.skipped) io.err(`  ${s.name}: ${s.reason}\n`);
    }
    io.out(values.json ? JSON.stringify(result, null, 2) + '\n' : `${result.path}\n`);
    return EXIT.ok;
  } catch (error) {
    progress.finish();
    if (error instanceof ApiError) {
      io.err(`berth diagnose: ${error.message}\n`);
      return EXIT.error;
    }
    throw error;
  }
}

function parseSeconds(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TRACE_SECONDS;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= MAX_TRACE_SECONDS)) {
    throw new UsageError(`--trace-seconds needs a whole number from 0 to ${MAX_TRACE_SECONDS}, not "${value}"`);
  }
  return n;
}

const BAR_WIDTH = 24;

/** One line per step on a pipe or log; a bar redrawn in place on a terminal. */
function progressPrinter(io: CliIO, tty: boolean): { update: (p: { step: string; progress: number }) => void; finish: () => void } {
  let lastStep: string | undefined;
  let drawn = false;
  return {
    update({ step, progress }) {
      const percent = Math.round(progress * 100);
      if (tty) {
        const filled = Math.round(progress * BAR_WIDTH);
        io.err(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(percent).padStart(3)}% ${step}\x1b[K`);
        drawn = true;
      } else if (step !== lastStep) {
        io.err(`[${String(percent).padStart(3)}%] ${step}\n`);
      }
      lastStep = step;
    },
    finish() {
      if (drawn) io.err('\n');
      drawn = false;
    },
  };
}
