import { APP_BUNDLE_ID } from '../../../common/app-id';
import { LAUNCHD_LOG_PATH, LAUNCHD_SOCKET_NAME } from './paths';
import { validateServiceSpec, type ServiceSpec } from './spec';

/**
 * The plist subset we write. Integers are bigint so they can only ever render
 * as <integer>: launchd checks value types, and a mode written as <string> or
 * <real> would be ignored or refuse the job.
 */
export type PlistValue = string | bigint | boolean | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Anything outside XML 1.0's Char production: no escape exists for it, so it must never reach the file. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/** Escapes text for element content. Throws rather than write a character XML cannot carry. */
export function escapeXml(text: string): string {
  if (NOT_XML_CHAR.test(text)) throw new Error('a plist string holds a character XML 1.0 cannot represent');
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(value: PlistValue, indent: string): string[] {
  const inner = `${indent}\t`;
  if (typeof value === 'string') return [`${indent}<string>${escapeXml(value)}</string>`];
  if (typeof value === 'bigint') return [`${indent}<integer>${value.toString(10)}</integer>`];
  if (typeof value === 'boolean') return [`${indent}<${value ? 'true' : 'false'}/>`];
  if (Array.isArray(value)) return [`${indent}<array>`, ...value.flatMap((v) => render(v, inner)), `${indent}</array>`];
  return [
    `${indent}<dict>`,
    ...Object.entries(value).flatMap(([key, v]) => [`${inner}<key>${escapeXml(key)}</key>`, ...render(v, inner)]),
    `${indent}</dict>`,
  ];
}

/** A complete XML property list document, in the layout Apple's tools write. */
export function renderPlist(root: PlistDict): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    ...render(root, ''),
    '</plist>',
    '',
  ].join('\n');
}

/**
 * The LaunchDaemon for /Library/LaunchDaemons/<label>.plist. Socket-activated:
 * launchd owns the listening socket and starts the helper on the first
 * connection, so nothing runs (or can be attacked) while Berth is idle. The
 * socket's name (LAUNCHD_SOCKET_NAME, "Listener") is the contract with the
 * daemon, which takes it with launch_activate_socket (helper/daemon/activation.ts)
 * instead of binding its own.
 */
export function launchdPlist(input: ServiceSpec): string {
  const spec = validateServiceSpec(input);
  return renderPlist({
    Label: spec.label,
    ProgramArguments: spec.helperCommand,
    Sockets: {
      [LAUNCHD_SOCKET_NAME]: {
        SockPathName: spec.socketPath,
        SockType: 'stream',
        // 0666 (plists have no octal), root:wheel, as com.docker.vmnetd's:
        // every local user may connect, and the helper's peer-credential check
        // on every connection serves only root and the enrolled uids. One
        // socket for all of them, so enrolling never touches this plist.
        SockPathMode: BigInt(0o666),
        SockPathOwner: 0n,
        SockPathGroup: 0n,
      },
    },
    // Started by the first connection, not at boot, and not kept alive: an
    // idle helper need not run, and launchd restarts it on the next connect.
    RunAtLoad: false,
    KeepAlive: false,
    // 022, as under systemd: files the helper creates (policy cache, audit
    // log) are never group/world-writable whatever launchd's default is.
    Umask: BigInt(0o022),
    // The macOS layout's log file (common/paths.ts), in the folder the installer creates.
    StandardErrorPath: LAUNCHD_LOG_PATH,
    // macOS 13+: System Settings > Login Items lists the daemon under Berth
    // (the app signed with this bundle id) instead of an unattributed item.
    AssociatedBundleIdentifiers: [APP_BUNDLE_ID],
    // No EnvironmentVariables: the helper takes everything from argv and its
    // root-owned config, so no variable can steer it (NODE_OPTIONS and the like).
  });
}
