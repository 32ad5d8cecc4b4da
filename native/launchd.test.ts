/**
 * launchActivateSocket outside launchd, on every platform (the Linux suite,
 * and the macOS workflow through vitest.darwin.config.ts). Taking a real
 * socket from launchd needs a launchd job: the macOS workflow's install
 * smoke test does that (the helper serves only through it).
 */
import { describe, expect, it } from 'vitest';
import { launchActivateSocket } from './index';
import { loadBinding } from './loader';
import { openFdCount } from './test-helpers';

/** What a process that launchd did not start hears, per platform. */
const NOT_FROM_LAUNCHD: { codes: string[]; message: RegExp } =
  process.platform === 'darwin'
    ? // ESRCH: not a launchd job; ENOENT: a child of a job (this test runner's) that declares no such socket.
      { codes: ['ESRCH', 'ENOENT'], message: /^(ESRCH: this process was not started by launchd|ENOENT: launchd holds no socket of this name for this process) \(socket "Listener"\), launch_activate_socket$/ }
    : { codes: ['ENOSYS'], message: /^ENOSYS: launchd sockets exist only on macOS \(socket "Listener"\), launch_activate_socket$/ };

describe('launchActivateSocket', () => {
  it('loads with the addon and says, in a sentence, that this process has no socket from launchd', () => {
    expect(typeof loadBinding().launchActivateSocket).toBe('function');
    const before = process.platform === 'linux' ? openFdCount() : undefined;
    let caught: unknown;
    try {
      launchActivateSocket('Listener');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    const { code, errno, syscall, message } = caught as Error & { code: string; errno: number; syscall: string };
    expect(NOT_FROM_LAUNCHD.codes).toContain(code);
    expect(message).toMatch(NOT_FROM_LAUNCHD.message);
    expect(syscall).toBe('launch_activate_socket');
    expect(errno).toBeLessThan(0);
    if (before !== undefined) expect(openFdCount()).toBe(before);
  });

  it.each([
    ['', TypeError, /name must be a non-empty string/],
    ['List\0ener', TypeError, /name must not contain NUL bytes/],
    ['n'.repeat(256), RangeError, /name must be at most 255 bytes/],
    ['\ud800', TypeError, /name must not contain lone UTF-16 surrogates/],
    [42, TypeError, /name must be a string/],
    [undefined, TypeError, /name must be a string/],
  ])('refuses the name %j in TypeScript and again in C', (name, kind, message) => {
    expect(() => launchActivateSocket(name as string)).toThrow(kind);
    expect(() => launchActivateSocket(name as string)).toThrow(message);
    // The addon must never trust its caller: the same refusal without the wrapper's checks.
    expect(() => loadBinding().launchActivateSocket(name as string)).toThrow(kind);
    expect(() => loadBinding().launchActivateSocket(name as string)).toThrow(message);
  });
});
