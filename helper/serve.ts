import type { HelperConfig } from '../common/helper-config/schema';
import { nullAuditLog, openAuditLog, type AuditLog } from './daemon/audit';
import { throttleAuditLog } from './daemon/audit-throttle';
import { HelperServer } from './daemon/server';
import { fileEnrolment, fixedEnrolment } from './daemon/enrolment';
import { PROTOCOL_MAX, PROTOCOL_MIN } from '../common/protocol';
import { BERTH_VERSION } from '../common/app-version';
import { loadBinding } from '../native/loader';
import { basename, dirname } from 'node:path';
import { HOSTS_PATH } from '../common/paths';
import { POLICY_CACHE_NAME } from '../common/policy/cache';
import { INSTALL_RECORD_NAME } from '../common/install-record';
import { sweepStaleTemps } from './fs/sweep';
import { LINK_RECORD_NAME } from './ops/symlinks';
import { WANTS_RECORD_NAME } from './ops/wants';

/** The helper's own atomically written files: the hosts file, and its state (policy cache, link and install records). */
function sweepHelperTemps(config: HelperConfig): string[] {
  return [
    ...sweepStaleTemps(dirname(HOSTS_PATH), [basename(HOSTS_PATH)]),
    ...sweepStaleTemps(config.stateDir, [POLICY_CACHE_NAME, LINK_RECORD_NAME, WANTS_RECORD_NAME, INSTALL_RECORD_NAME]),
  ];
}

/** systemd's first passed fd; the variables count only when they name this very process. */
const SD_LISTEN_FDS_START = 3;

function activationFd(): number | undefined {
  const { LISTEN_PID, LISTEN_FDS } = process.env;
  if (LISTEN_PID !== String(process.pid) || LISTEN_FDS === undefined) return undefined;
  // One socket is all the unit passes; more would be a misconfiguration we refuse to guess about.
  if (LISTEN_FDS !== '1') throw new Error(`expected one socket from the service manager, got LISTEN_FDS=${LISTEN_FDS}`);
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  return SD_LISTEN_FDS_START;
}

/**
 * Runs the daemon in the foreground until SIGTERM/SIGINT. Resolves with the
 * exit code. Every failure to start is one line saying what to fix.
 * `configPath`: the installed config the settings came from; enrolment is
 * then followed there while the helper runs (users enrol and leave).
 */
export async function serve(config: HelperConfig, configPath?: string): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('berth-helper: serve must run as root (it binds privileged ports on behalf of the enrolled users)');
    return 77;
  }
  // The addon checks every client's credentials: without it no request could
  // be served, so a broken install refuses to start instead of listening.
  try {
    loadBinding();
  } catch (error) {
    console.error(`berth-helper: ${(error as Error).message}`);
    return 1;
  }
  // What a crash mid-write left (hosts, policy, link and install records), before any request can write again.
  for (const path of sweepHelperTemps(config)) console.error(`berth-helper: removed ${path}, left by an interrupted write`);
  // Signal handlers first, so a stop that races start-up is still a clean stop;
  // `on`, not `once`: a repeated signal must not kill us halfway through cleanup.
  const stopRequested = new Promise<void>((resolve) => {
    process.on('SIGTERM', () => resolve());
    process.on('SIGINT', () => resolve());
  });
  // The server writes through this: the log is opened once we listen (below).
  let audit: AuditLog = nullAuditLog;
  const enrolment = configPath === undefined ? fixedEnrolment(config.allowUids) : fileEnrolment(configPath, config.allowUids);
  const server = new HelperServer(config, { write: (entry) => audit.write(entry), close: () => audit.close() }, enrolment);
  const activated = activationFd();
  try {
    if (activated !== undefined) await server.listenOn(activated);
    else await server.listen();
  } catch (error) {
    console.error(`berth-helper: cannot listen on ${config.socketPath}: ${(error as Error).message}`);
    return 1;
  }
  // After listen, so a bad socket directory is the error reported first; no
  // connection is handled before this runs (accepting takes a turn of the event loop).
  if (config.auditLogPath !== undefined) {
    const { limits } = config;
    try {
      audit = throttleAuditLog(openAuditLog(config.auditLogPath, { files: limits.auditFiles, fileBytes: limits.auditFileBytes }), {
        windowMs: limits.auditRepeatWindowMs,
        refusalsPerWindow: limits.auditRefusalsPerWindow,
      });
    } catch (error) {
      // Root's actions must be on record: no log, no helper.
      console.error(`berth-helper: cannot open the audit log ${config.auditLogPath}: ${(error as Error).message}`);
      await server.close();
      return 1;
    }
  }
  console.error(
    `berth-helper ${BERTH_VERSION}: serving on ${config.socketPath}${activated !== undefined ? ' (socket from the service manager)' : ''} for ${config.allowUids.length === 1 ? 'uid' : 'uids'} ${config.allowUids.join(', ')} and root (protocol ${PROTOCOL_MIN}-${PROTOCOL_MAX})`,
  );
  await stopRequested;
  await server.close();
  audit.close();
  console.error('berth-helper: stopped');
  return 0;
}
