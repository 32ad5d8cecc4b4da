import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, lstatSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { expect } from '@playwright/test';
import { TEST_USERS, type TestUser } from '../../test/support/constants';
import { ensureUser } from '../../test/support/users';
import { finished, type Finished } from '../../test/support/finished';
import { spawnInHome } from '../../test/support/user-home';

export { freshHome } from '../../test/support/user-home';
import { installLayout } from '../../common/paths';
import { appResourcesDir, cliToolTarget } from '../../common/cli-tools';
import { generateKeyPair, signPolicy, type PolicyPayload } from '../../common/policy';

/**
 * The real parts an end-to-end spec drives: the app as installed (root-owned,
 * in e2e/run.sh's private machine), its backend as the unprivileged test user
 * with a home of its own, the root installer, and a target server to publish.
 */
export const APP = process.env.BERTH_E2E_APP ?? '';
/**
 * The CLI as the installed app ships it (its single executable in the app's
 * resources): browser mode's backend is then the same program, with the same
 * bundled helper, as the CLI links and the Electron app use.
 */
const CLI = cliToolTarget(APP, 'berth');
const HELPER = join(APP, 'dist/helper/berth-helper.js');
/** The CLI link the helper makes in the system location. */
const SYSTEM_LINK = '/usr/local/bin/berth';

/**
 * The user the app runs as. Linux: an unprivileged test user the suite makes
 * (it runs as root). macOS: the desktop user running the suite, since a GUI
 * app runs only in its user's session (e2e/run-macos.sh; root steps go through
 * the runner's passwordless sudo).
 */
export function testUser(): TestUser {
  if (process.platform !== 'darwin') return ensureUser(TEST_USERS.test);
  const me = userInfo();
  if (me.uid === 0) throw new Error('run the macOS end-to-end suite as the desktop user, not root (e2e/run-macos.sh)');
  return { name: me.username, uid: me.uid, gid: me.gid };
}

/** argv as root, the way an admin runs it: directly when the suite is root (Linux), else through sudo -n (macOS CI). */
function asRoot(argv: readonly string[]): SpawnSyncReturns<string> {
  const [file, ...args] = process.getuid?.() === 0 ? argv : ['/usr/bin/sudo', '-n', '--', ...argv];
  return spawnSync(file!, args, { encoding: 'utf8' });
}

export interface RunningBackend {
  url: string;
  controlSocket: string;
  home: string;
  log(): string;
  stop(): Promise<void>;
}

/** `berth ARGS` as the user types it: found on PATH (/usr/local/bin, where the helper links the packaged CLI). */
export function berthOnPath(user: TestUser, home: string, args: string[]): Promise<Finished> {
  return finished(spawnInHome(user, home, ['berth', ...args]));
}

/** `berth app` as the user: the real backend with the browser-mode UI; resolves with its launch link (good once, for a minute: the fixture opens it once per page). */
export function startBackend(user: TestUser, home: string): Promise<RunningBackend> {
  const child = spawnInHome(user, home, [CLI, 'app', '--json']);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end < 0) return;
      const { url, controlSocket } = JSON.parse(stdout.slice(0, end)) as { url: string; controlSocket: string };
      resolve({
        url,
        controlSocket,
        home,
        log: () => stderr,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`berth app exited (${code}) before it was ready:\n${stderr}`)));
  });
}

/** As root, the way an admin would: remove any helper and user-mode setup, so each spec starts from a clean machine. */
export function resetMachine(): void {
  const layout = installLayout();
  if (existsSync(layout.configPath) || existsSync(layout.userModePath) || existsSync(layout.helperDir)) {
    const result = asRoot([process.execPath, HELPER, 'uninstall']);
    if (result.status !== 0) throw new Error(`berth-helper uninstall failed: ${result.stdout}${result.stderr}`);
  }
  if (lstatSync(SYSTEM_LINK, { throwIfNoEntry: false }) !== undefined) {
    const removed = asRoot(['/bin/rm', '-f', SYSTEM_LINK]);
    if (removed.status !== 0) throw new Error(`cannot remove ${SYSTEM_LINK}: ${removed.stderr}`);
  }
}

/** As root, as an admin's script (or another user's own prompt) would: install the helper for `uid`, enrolling it. */
export function installHelperFor(uid: number): string {
  const result = spawnSync(process.execPath, [HELPER, 'install', '--app', APP, '--uid', String(uid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`berth-helper install --uid ${uid} failed: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The helper the standalone supervisor runs now (its one child), or undefined while it has none. */
function standaloneHelperPid(): number | undefined {
  const supervisor = Number(readFileSync(installLayout().pidPath, 'utf8').trim());
  const children = readFileSync(`/proc/${supervisor}/task/${supervisor}/children`, 'utf8').trim();
  return children === '' ? undefined : Number(children.split(' ')[0]);
}

/**
 * As a crash would (Linux, standalone mode): the helper is killed, and its
 * supervisor starts a new one; resolves once the new one runs.
 */
export async function restartHelper(): Promise<void> {
  const before = standaloneHelperPid();
  if (before === undefined) throw new Error('no helper runs under the standalone supervisor');
  process.kill(before, 'SIGKILL');
  await expect.poll(standaloneHelperPid).not.toBe(before);
  await expect.poll(standaloneHelperPid).toBeDefined();
}

/**
 * As root, as an administrator would from the installed app's folder, behind
 * the app's back: the helper the app bundles, installed for `user`.
 */
export function adminInstall(user: TestUser): void {
  const bundled = join(appResourcesDir(APP, process.platform), 'helper', 'berth-helper');
  const result = asRoot([bundled, 'install', '--app', APP, '--uid', String(user.uid)]);
  if (result.status !== 0) throw new Error(`berth-helper install --uid ${user.uid} failed: ${result.stdout}${result.stderr}`);
}

/** Another account on this machine (the second test user). */
export function otherUser(): TestUser {
  return ensureUser(TEST_USERS.other);
}

/** As root: the managed-machine install for one account (no helper at runtime). */
export function installUserMode(user: TestUser): string {
  const result = asRoot([process.execPath, HELPER, 'install', '--user', user.name, '--app', APP]);
  if (result.status !== 0) throw new Error(`berth-helper install --user failed: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The service a published port forwards to: answers every request with a fixed body. */
export async function startTarget(body: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A UDP echo target on 127.0.0.1: answers each datagram with `<prefix> <data>`. */
export async function startUdpTarget(prefix: string): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (data, from) => socket.send(`${prefix} ${data.toString()}`, from.port, from.address));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close() };
}

/** One datagram to 127.0.0.1:port and its answer, with who answered (as a user's dig would see it). */
export async function udpAsk(port: number, text: string): Promise<{ text: string; from: string }> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from 127.0.0.1:${port}/udp within 10 s`)), 10_000);
      socket.once('message', (data, info) => {
        clearTimeout(timer);
        resolve({ text: data.toString(), from: `${info.address}:${info.port}` });
      });
      socket.send(text, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** A real HTTP request from another process's point of view (not the page): what a user's curl would see. */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** Whether anything listens on TCP address:port right now (Linux: ss; macOS: lsof, which sees the app's own sockets). */
export function isListening(address: string, port: number): boolean {
  const result =
    process.platform === 'darwin'
      ? spawnSync('/usr/sbin/lsof', ['-nP', `-iTCP@${address}:${port}`, '-sTCP:LISTEN'], { encoding: 'utf8' })
      : spawnSync('ss', ['-Hltn', `src ${address}:${port}`], { encoding: 'utf8' });
  return result.stdout.trim().length > 0;
}

/** Whether any UDP socket is bound to address:port right now. */
export function isUdpBound(address: string, port: number): boolean {
  const result =
    process.platform === 'darwin'
      ? spawnSync('/usr/sbin/lsof', ['-nP', `-iUDP@${address}:${port}`], { encoding: 'utf8' })
      : spawnSync('ss', ['-Hlun', `src ${address}:${port}`], { encoding: 'utf8' });
  return result.stdout.trim().length > 0;
}

/**
 * As the organization's admin: an org key, a signed policy served over HTTP
 * on loopback, and the installed helper re-configured (root, as MDM would)
 * with that key and the policy URL. The app fetches the policy when it starts.
 */
export async function managePolicy(user: TestUser, payload: PolicyPayload): Promise<{ close(): Promise<void> }> {
  const keys = generateKeyPair();
  const document = signPolicy(payload, keys.privateKeyPem);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(document);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/policy.json`;
  const dir = mkdtempSync('/tmp/berth-e2e-org-');
  const keyFile = join(dir, 'org-key.pub.pem');
  writeFileSync(keyFile, keys.publicKeyPem);
  const result = asRoot([process.execPath, HELPER, 'install', '--app', APP, '--uid', String(user.uid), '--org-key', keyFile, '--policy-url', url]);
  if (result.status !== 0) throw new Error(`berth-helper install --org-key --policy-url failed: ${result.stdout}${result.stderr}`);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
