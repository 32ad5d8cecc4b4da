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
import type { InstallLayout } from '../common/paths';
import { appGoneConfirmed, appPresence } from './daemon/app-presence';
import { REMOVAL_EXIT_STATUS, REMOVAL_REQUEST_NAME } from './daemon/removal-request';
import { detectServiceManager } from '../common/service-manager';
import { removeForGoneApp } from './install/self-remove';
import { activatedSocket } from './daemon/activation';
import { WANTS_RECORD_NAME } from './ops/wants';

/** The helper's own atomically written files: the hosts file, and its state (policy cache, link and install records). */
function sweepHelperTemps(config: HelperConfig): string[] {
  return [
    ...sweepStaleTemps(dirname(HOSTS_PATH), [basename(HOSTS_PATH)]),
    ...sweepStaleTemps(config.stateDir, [POLICY_CACHE_NAME, LINK_RECORD_NAME, WANTS_RECORD_NAME, INSTALL_RECORD_NAME, REMOVAL_REQUEST_NAME]),
  ];
}

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * Runs the daemon in the foreground until SIGTERM/SIGINT. Resolves with the
 * exit code. Every failure to start is one line saying what to fix.
 * `configPath`: the installed config the settings came from; enrolment is
 * then followed there while the helper runs (users enrol and leave).
 */
export interface ServeOptions {
  /**
   * Set when serving as the installed service (`serve --config` with the
   * layout's own config file): only then may the helper remove itself when
   * its app is gone. A development or test helper never does.
   */
  installed?: InstallLayout;
  /** The config file the settings came from: enrolment is followed there while the helper runs (users enrol and leave). */
  configPath?: string;
}

/** Resolves only if the installed app is (and stays) gone; otherwise never. */
function appGone(config: HelperConfig, options: ServeOptions): Promise<void> {
  const appPath = config.appPath;
  if (options.installed === undefined || appPath === undefined) return new Promise(() => {});
  const presence = appPresence(appPath);
  if (presence.state === 'unknown') console.error(`berth-helper: cannot tell whether the app is still installed: ${presence.why}`);
  const log = (line: string): void => console.error(`berth-helper: ${line}`);
  return appGoneConfirmed(appPath, config.limits.appGoneConfirmMs, log).then((gone) => {
    // A managed helper is the admin's (see the uninstall operation): removing it would drop the
    // organization's policy, and a user who can delete the app must not be able to lift it that way.
    if (gone && config.orgPublicKey !== undefined) {
      log(`the app at ${appPath} is gone, but this helper is managed by your organization: only an administrator removes it (berth-helper uninstall, as root)`);
      return new Promise(() => {});
    }
    return gone ? undefined : new Promise(() => {});
  });
}

export async function serve(config: HelperConfig, options: ServeOptions = {}): Promise<number> {
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
  const enrolment = options.configPath === undefined ? fixedEnrolment(config.allowUids) : fileEnrolment(options.configPath, config.allowUids);
  // Known before the server is made (its uninstall needs it); whether systemd holds the socket is known only from the fds.
  let activated;
  try {
    activated = activatedSocket();
  } catch (error) {
    console.error(`berth-helper: cannot listen on ${config.socketPath}: ${(error as Error).message}`);
    return 1;
  }
  // The installed service under systemd runs in the unit's sandbox: removal is finished from outside it.
  const inSystemdUnit = options.installed !== undefined && activated?.startsOnDemand === true && detectServiceManager() === 'systemd';
  let handOver!: () => void;
  const handedOver = new Promise<void>((resolve) => {
    handOver = resolve;
  });
  const auditSink: AuditLog = { write: (entry) => audit.write(entry), close: () => audit.close() };
  const server = new HelperServer(config, auditSink, enrolment, inSystemdUnit ? { handOverRemoval: handOver } : {});
  try {
    if (activated !== undefined) await server.listenOn(activated.fd);
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
    `berth-helper ${BERTH_VERSION}: serving on ${config.socketPath}${activated !== undefined ? ` (socket from ${activated.holder})` : ''} for ${config.allowUids.length === 1 ? 'uid' : 'uids'} ${config.allowUids.join(', ')} and root (protocol ${PROTOCOL_MIN}-${PROTOCOL_MAX})`,
  );
  // Only a holder that starts us again on the next connection lets us go when idle.
  const idleExitMs = activated?.startsOnDemand === true ? config.limits.idleExitMs : 0;
  const idle = idleExitMs > 0 ? server.idleFor(idleExitMs).then(() => 'idle' as const) : new Promise<never>(() => {});
  const why = await Promise.race([
    stopRequested.then(() => 'stop' as const),
    idle,
    appGone(config, options).then(() => 'app-gone' as const),
    handedOver.then(() => 'uninstall' as const),
  ]);
  await server.close();
  if (why === 'uninstall') {
    // The uninstall operation recorded who asked and has answered; its audit line is written.
    audit.close();
    console.error('berth-helper: uninstall was asked: systemd finishes the removal once this process has exited');
    return REMOVAL_EXIT_STATUS;
  }
  if (why === 'app-gone' && options.installed !== undefined) {
    const message = `the app at ${config.appPath} is gone, so the helper removes itself, its CLI links and its hosts entries`;
    console.error(`berth-helper: ${message}`);
    audit.write({ peer: { uid: 0, gid: 0, pid: process.pid }, op: 'uninstall', result: 'ok', message });
    audit.close();
    if (inSystemdUnit) {
      // Inside systemd's sandbox: the unit's ExecStopPost=+ finishes it, outside the sandbox (finish-removal.ts).
      console.error('berth-helper: systemd finishes the removal once this process has exited');
      return REMOVAL_EXIT_STATUS;
    }
    removeForGoneApp(config, options.installed, (line) => console.error(`berth-helper: ${line}`));
    console.error('berth-helper: removed; nothing of Berth runs any more');
    return 0;
  }
  audit.close();
  console.error(
    why === 'idle'
      ? `berth-helper: idle for ${duration(idleExitMs)}: exiting; ${activated!.holder} keeps the socket and starts the helper on the next connection`
      : 'berth-helper: stopped',
  );
  return 0;
}
