import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  createWriteStream,
  fchmodSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { create as createTar } from 'tar';
import { ApiError } from '../../../common/api/backend-api';
import type { Capabilities } from '../../../common/api/capabilities';
import { BERTH_VERSION } from '../../../common/app-version';
import { errnoCode } from '../../../common/errno';
import { HOSTS_PATH, installLayout, type InstallLayout } from '../../../common/paths';
import type { HelperClient } from '../../helper-client';
import { fsyncDirectory } from '../fs/user-file';
import { redactFileContent } from './redact';
import {
  auditLogSource,
  directorySource,
  fileSource,
  helperLogsSource,
  hostsBlockSource,
  installStateSource,
  settingsSource,
  textEntry,
  traceSource,
  type Entry,
  type Gathered,
  type Skipped,
} from './sources';

export interface DiagnosticsOptions {
  /** Where the archive goes (the user's home by default in the callers). */
  outDir: string;
  capabilities: Capabilities;
  settingsPath: string;
  mappingsPath?: string;
  /** The backend's own logs. */
  appLogDir: string;
  /** Connects to the helper for the privileged trace; the archive closes the client. */
  helper?: () => Promise<HelperClient | undefined>;
  /** 0 skips the trace; at most 30 (the helper's limit). Default 5. */
  traceSeconds?: number;
  layout?: InstallLayout;
  hostsPath?: string;
  onProgress: (p: { step: string; progress: number }) => void;
  now?: Date;
}

export interface DiagnosticsResult {
  /** The archive's absolute path. */
  path: string;
  /** Members, relative to the archive's top directory; manifest.json included. */
  files: string[];
  skipped: Skipped[];
}

export const DEFAULT_TRACE_SECONDS = 5;
export const MAX_TRACE_SECONDS = 30;
/** How many "-N" suffixes to try when archives made in the same second collide. */
const MAX_NAME_ATTEMPTS = 100;

/** One run per process: two would trace over each other and race for the archive name. */
let running = false;

export function isDiagnosticsRunning(): boolean {
  return running;
}

/** UTC, sortable, and without ":" (not allowed in macOS Finder or Windows names). */
export function archiveStamp(now: Date): string {
  const iso = now.toISOString(); // 2026-11-28T03:53:51.123Z
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

function checkOptions(opts: DiagnosticsOptions): number {
  const seconds = opts.traceSeconds ?? DEFAULT_TRACE_SECONDS;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TRACE_SECONDS) {
    throw new ApiError('INVALID', `the trace duration must be a whole number of seconds from 0 to ${MAX_TRACE_SECONDS}`);
  }
  if (!isAbsolute(opts.outDir)) throw new ApiError('INVALID', `the output folder must be an absolute path, not "${opts.outDir}"`);
  let isDir: boolean;
  try {
    isDir = statSync(opts.outDir).isDirectory();
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') throw new ApiError('INVALID', `the output folder ${opts.outDir} does not exist`);
    throw new ApiError('INVALID', `cannot use the output folder ${opts.outDir} (${code ?? (error as Error).message})`);
  }
  if (!isDir) throw new ApiError('INVALID', `${opts.outDir} is not a folder`);
  try {
    accessSync(opts.outDir, constants.W_OK | constants.X_OK);
  } catch {
    throw new ApiError('INVALID', `cannot write to ${opts.outDir} (permission denied); choose another folder`);
  }
  return seconds;
}

/** A step of the run, weighted by roughly how long it takes (the trace by its seconds). */
interface Step {
  label: string;
  weight: number;
  run: (tick: (fraction: number, label?: string) => void) => Gathered | Promise<Gathered>;
}

/**
 * Gathers logs, state and (where the helper runs) its privileged trace into
 * one tar.gz in `outDir`, mode 0600, named berth-diagnostics-<UTC stamp>.tar.gz.
 * Every byte is redacted before it is written, even to the private staging
 * directory. The archive appears whole or not at all, never over an existing
 * file. Throws ApiError BUSY while another run in this process is going.
 */
export async function createDiagnosticsArchive(opts: DiagnosticsOptions): Promise<DiagnosticsResult> {
  if (running) throw new ApiError('BUSY', 'diagnostics are already being gathered; wait for that run to finish');
  running = true;
  try {
    return await create(opts);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    // A full disk or a folder that changed under us: one sentence, and (see create) nothing left behind.
    throw new ApiError('FAILED', `could not write the diagnostics archive in ${opts.outDir} (${errnoCode(error) ?? (error as Error).message})`);
  } finally {
    running = false;
  }
}

async function create(opts: DiagnosticsOptions): Promise<DiagnosticsResult> {
  const seconds = checkOptions(opts);
  const layout = opts.layout ?? installLayout();
  const hostsPath = opts.hostsPath ?? HOSTS_PATH;
  const now = opts.now ?? new Date();
  const top = `berth-diagnostics-${archiveStamp(now)}`;

  const steps: Step[] = [
    { label: 'capabilities', weight: 1, run: () => textEntry('capabilities.json', JSON.stringify(opts.capabilities), 'json', 'capabilities') },
    { label: 'settings', weight: 1, run: () => settingsSource(opts.settingsPath) },
    {
      label: 'mappings',
      weight: 1,
      run: () =>
        opts.mappingsPath === undefined
          ? { entries: [], skipped: [{ name: 'mappings.json', reason: 'no mappings file was given' }] }
          : fileSource('mappings.json', opts.mappingsPath, 'json', true),
    },
    { label: 'hosts block', weight: 1, run: () => hostsBlockSource(hostsPath) },
    { label: 'install state', weight: 1, run: () => installStateSource(layout) },
    { label: 'app logs', weight: 1, run: () => directorySource('app-logs', opts.appLogDir) },
    {
      label: 'privileged trace',
      // The trace is the slow part: weighted by its length so the bar moves evenly.
      weight: Math.max(1, seconds * 2),
      run: (tick) =>
        traceSource({
          capabilities: opts.capabilities,
          helper: opts.helper,
          seconds,
          onTick: (t) => tick(t / seconds, `privileged trace (${Math.floor(t)} of ${seconds} s)`),
        }),
    },
    // After the trace, so the audit log shows the trace request too.
    { label: 'helper logs', weight: 1, run: () => helperLogsSource(layout) },
    { label: 'audit log', weight: 1, run: () => auditLogSource(layout.auditLogPath) },
  ];
  const total = steps.reduce((sum, s) => sum + s.weight, 0) + 1;
  let done = 0;
  const report = (step: string, progress: number): void => opts.onProgress({ step, progress: Math.min(1, progress) });

  // Staged in a private directory beside the archive (same filesystem, so the final link is atomic).
  let stage: string;
  try {
    stage = mkdtempSync(join(opts.outDir, '.berth-diagnostics-'));
  } catch (error) {
    throw new ApiError('FAILED', `cannot write to ${opts.outDir} (${errnoCode(error) ?? (error as Error).message})`);
  }
  try {
    const files: Array<{ name: string; source: string; bytes: number; redactions: number; truncated: boolean }> = [];
    const skipped: Skipped[] = [];
    const write = (entry: Entry): void => {
      const redacted = redactFileContent(entry.content, entry.kind);
      const path = join(stage, top, entry.name);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, redacted.text, { mode: 0o600, flag: 'wx' });
      files.push({
        name: entry.name,
        source: entry.source,
        bytes: Buffer.byteLength(redacted.text),
        redactions: redacted.count,
        truncated: entry.truncated,
      });
    };
    for (const step of steps) {
      report(step.label, done / total);
      const base = done;
      const gathered = await step.run((fraction, label) => report(label ?? step.label, (base + fraction * step.weight) / total));
      gathered.entries.forEach(write);
      skipped.push(...gathered.skipped);
      done += step.weight;
    }
    report('writing the archive', done / total);
    const manifest = {
      berthVersion: BERTH_VERSION,
      createdAt: now.toISOString(),
      platform: process.platform,
      uid: process.getuid?.() ?? null,
      layout,
      hostsPath,
      /** Every other member of the archive: where it came from, its size, how many secrets were taken out. */
      files: [...files],
      /** Every source that is not in the archive, and why. */
      skipped,
    };
    write({ name: 'manifest.json', content: JSON.stringify(manifest), kind: 'json', source: 'this run', truncated: false });
    const path = await writeArchive(stage, top, opts.outDir, now);
    report('done', 1);
    return { path, files: files.map((f) => f.name), skipped };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** tar.gz of stage/top into a fresh 0600 temp file, fsynced, then linked to a name nobody has. */
async function writeArchive(stage: string, top: string, outDir: string, now: Date): Promise<string> {
  const temp = join(outDir, `.berth-diagnostics-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let streamClosesFd = false;
    try {
      // The umask can only narrow the mode; 0600 exactly either way.
      fchmodSync(fd, 0o600);
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream('', { fd, autoClose: false });
        const pack = createTar({ gzip: true, cwd: stage, portable: true, mtime: now }, [top]);
        let failure: Error | undefined;
        let packDone = false;
        let outClosed = false;
        // Settled only once both are done: no staged file left open, no write in flight on our fd.
        const settle = (): void => {
          if (failure !== undefined && packDone && outClosed) reject(failure);
        };
        const fail = (error: unknown): void => {
          if (failure !== undefined) return;
          failure = error instanceof Error ? error : new Error(String(error));
          // The rest of the tar is read and dropped, so every staged file it opened is closed.
          pack.unpipe(out);
          pack.resume();
          // destroy() closes the fd, but only after a write in flight is done: never closed under it.
          streamClosesFd = true;
          out.destroy();
        };
        pack.on('end', () => {
          packDone = true;
          settle();
        });
        pack.on('error', (error: unknown) => {
          packDone = true;
          fail(error);
          settle();
        });
        out.on('error', fail);
        out.on('close', () => {
          outClosed = true;
          settle();
        });
        out.on('finish', () => failure === undefined && resolve());
        pack.pipe(out);
      });
      fsyncSync(fd);
    } finally {
      if (!streamClosesFd) closeSync(fd);
    }
    const path = placeWithoutOverwrite(temp, join(outDir, `${top}.tar.gz`));
    fsyncDirectory(outDir);
    return path;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** link(2) fails rather than replace: a file already at the name (ours or the user's) is never overwritten. */
function placeWithoutOverwrite(temp: string, wanted: string): string {
  const base = wanted.slice(0, -'.tar.gz'.length);
  for (let attempt = 1; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
    const candidate = attempt === 1 ? wanted : `${base}-${attempt}.tar.gz`;
    try {
      try {
        linkSync(temp, candidate);
      } catch (error) {
        // A filesystem without hard links: an exclusive copy still never overwrites.
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errnoCode(error) ?? '')) throw error;
        copyFileSync(temp, candidate, constants.COPYFILE_EXCL);
      }
      unlinkSync(temp);
      return candidate;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new ApiError('FAILED', `${MAX_NAME_ATTEMPTS} archives named ${wanted} already exist; remove some`);
}
