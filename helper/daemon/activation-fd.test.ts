/**
 * Which socket the helper serves on, per service manager. The systemd branch
 * runs for real in activation.test.ts (systemd-socket-activate); here each
 * branch's decisions, with real descriptors where one is handed over. The
 * launchd branch's real call runs in activation.darwin.test.ts and the
 * macOS workflow's install smoke test.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activationFd, SD_LISTEN_FDS_START, type ActivationSources } from './activation';

const PID = 4242;

function errnoError(code: string): Error {
  return Object.assign(new Error(`${code}: from the test, launch_activate_socket`), { code, errno: -1, syscall: 'launch_activate_socket' });
}

const notCalled = (): number[] => {
  throw new Error('launch_activate_socket must not be called off macOS');
};

function linux(env: NodeJS.ProcessEnv): ActivationSources {
  return { platform: 'linux', env, pid: PID, launchActivateSocket: notCalled };
}

function darwin(take: (name: string) => number[], env: NodeJS.ProcessEnv = {}): ActivationSources {
  return { platform: 'darwin', env, pid: PID, launchActivateSocket: take };
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('activationFd under systemd (Linux)', () => {
  it('takes fd 3 when LISTEN_PID names this process and LISTEN_FDS is 1, and clears both for its children', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(PID), LISTEN_FDS: '1', PATH: '/usr/bin' };
    expect(activationFd(linux(env))).toBe(SD_LISTEN_FDS_START);
    expect(env).toEqual({ PATH: '/usr/bin' });
  });

  it.each([
    ['no variables', {}],
    ["another process's LISTEN_PID", { LISTEN_PID: String(PID + 1), LISTEN_FDS: '1' }],
    ['LISTEN_PID without LISTEN_FDS', { LISTEN_PID: String(PID) }],
    ['LISTEN_FDS without LISTEN_PID', { LISTEN_FDS: '1' }],
  ])('binds its own socket with %s, and drops the variables so nothing it starts sees them', (_what, variables: NodeJS.ProcessEnv) => {
    const env = { ...variables, PATH: '/usr/bin' };
    expect(activationFd(linux(env))).toBeUndefined();
    expect(env).toEqual({ PATH: '/usr/bin' });
  });

  it.each(['0', '2', '1 ', 'one'])('refuses LISTEN_FDS=%j: one socket is all the unit passes', (count) => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(PID), LISTEN_FDS: count };
    expect(() => activationFd(linux(env))).toThrow(`expected one socket from the service manager, got LISTEN_FDS=${count}`);
  });
});

describe('activationFd under launchd (macOS)', () => {
  it('takes the one descriptor launchd holds under Sockets.Listener, and ignores systemd variables', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const asked: string[] = [];
      const env = { LISTEN_PID: String(PID), LISTEN_FDS: '1' };
      const take = (name: string): number[] => {
        asked.push(name);
        return [fd];
      };
      expect(activationFd(darwin(take, env))).toBe(fd);
      expect(asked).toEqual(['Listener']);
      expect(env).toEqual({ LISTEN_PID: String(PID), LISTEN_FDS: '1' });
    } finally {
      closeSync(fd);
    }
  });

  it.each(['ESRCH', 'ENOENT'])('binds its own socket when launch_activate_socket says %s (not started by launchd for this socket)', (code) => {
    expect(
      activationFd(
        darwin(() => {
          throw errnoError(code);
        }),
      ),
    ).toBeUndefined();
  });

  it.each(['EALREADY', 'ENOSYS', 'EPERM'])('stops with a sentence when launch_activate_socket says %s', (code) => {
    expect(() =>
      activationFd(
        darwin(() => {
          throw errnoError(code);
        }),
      ),
    ).toThrow(`cannot take the socket launchd holds for the helper (${code}: from the test, launch_activate_socket); reinstall the helper`);
  });

  it.each([0, 2, 3])('refuses %i descriptors, closing every one', (count) => {
    const fds = Array.from({ length: count }, () => openSync('/dev/null', 'r'));
    expect(() => activationFd(darwin(() => fds))).toThrow(
      `expected one socket from launchd under Sockets.Listener, got ${count}; reinstall the helper`,
    );
    for (const fd of fds) expect(isOpen(fd)).toBe(false);
  });
});
