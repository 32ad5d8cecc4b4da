import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { drainAddressWatch, openAddressWatch, POLL_READABLE, pollStart, pollStop, receiveMessage } from './index';
import { loadBinding } from './loader';
import { expectSystemError, fdFlags, makeTempDir, nativePair, O_CLOEXEC, O_NONBLOCK, openFdCount, removeTempDirs } from './test-helpers';

// Runs inside the suite's private network namespace (npm test), as root: the
// addresses added here are that namespace's, never the machine's. Each test
// uses addresses of its own, so it cannot be confused by another file's.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  removeTempDirs();
});

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function watch(): number {
  const fd = openAddressWatch();
  cleanups.push(() => closeSync(fd));
  return fd;
}

/** Resolves once `fd` has something to read (the poll stopped again). */
function readable(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const handle = pollStart(fd, POLL_READABLE, (error) => {
      pollStop(handle);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** An address on lo for the length of one test. */
function addAddress(cidr: string): void {
  ip('addr', 'add', cidr, 'dev', 'lo');
  cleanups.push(() => ip('addr', 'del', cidr, 'dev', 'lo'));
}

/** The netlink port id the kernel gave the socket `fd` (from /proc/self/net/netlink, by inode). */
function netlinkPortId(fd: number): number {
  const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  const row = readFileSync('/proc/self/net/netlink', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((cols) => cols[9] === inode);
  if (inode === undefined || row === undefined) throw new Error(`fd ${fd} is not a netlink socket`);
  return Number(row[2]);
}

describe('openAddressWatch / drainAddressWatch', () => {
  it('opens a close-on-exec, non-blocking socket with nothing to read yet', () => {
    const fd = watch();
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(fdFlags(fd) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^socket:\[\d+\]$/);
    expect(drainAddressWatch(fd)).toBe(0);
  });

  it('turns readable when an address is added, and again when it is removed; drain counts and empties', async () => {
    const fd = watch();
    ip('addr', 'add', '10.213.0.1/32', 'dev', 'lo');
    try {
      await readable(fd);
      expect(drainAddressWatch(fd)).toBeGreaterThanOrEqual(1);
      expect(drainAddressWatch(fd)).toBe(0); // all read
    } finally {
      ip('addr', 'del', '10.213.0.1/32', 'dev', 'lo');
    }
    await readable(fd);
    expect(drainAddressWatch(fd)).toBeGreaterThanOrEqual(1);
    expect(drainAddressWatch(fd)).toBe(0);
  });

  it('hears IPv6 addresses too', async () => {
    const fd = watch();
    addAddress('fd00:213::1/128');
    await readable(fd);
    expect(drainAddressWatch(fd)).toBeGreaterThanOrEqual(1);
  });

  it('does not count a message a process sends it, shaped as an address change (only the kernel speaks for addresses)', async () => {
    const fd = watch();
    const port = netlinkPortId(fd);
    // A root process may unicast to any netlink socket: here a bare RTM_NEWADDR (type 20) header.
    execFileSync('/usr/bin/python3', [
      '-c',
      `import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
s.sendto(struct.pack('=LHHLL', 24, 20, 0, 0, 0) + bytes(8), (${port}, 0))`,
    ]);
    await readable(fd);
    expect(drainAddressWatch(fd)).toBe(0);
    // Read and dropped: nothing is left, and the kernel's own news still counts.
    expect(drainAddressWatch(fd)).toBe(0);
    addAddress('10.213.0.2/32');
    await readable(fd);
    expect(drainAddressWatch(fd)).toBeGreaterThanOrEqual(1);
  });

  it('reads at most 64 messages a call when flooded, losing none of its use when the buffer overflowed', async () => {
    const fd = watch();
    // 3000 address changes, not read meanwhile: far more than one call reads, and more than the socket holds.
    ip('link', 'add', 'brw213', 'type', 'bridge');
    cleanups.push(() => ip('link', 'del', 'brw213'));
    const batch = path.join(makeTempDir(), 'batch');
    writeFileSync(batch, Array.from({ length: 3000 }, (_, i) => `address add 10.214.${i >> 8}.${i & 255}/32 dev brw213`).join('\n') + '\n');
    ip('-batch', batch);
    expect(drainAddressWatch(fd)).toBe(64);
    let calls = 1;
    while (drainAddressWatch(fd) > 0) {
      calls++;
      if (calls > 100) throw new Error('drain never emptied the socket');
    }
    // Still a working watch.
    addAddress('10.213.0.3/32');
    await readable(fd);
    expect(drainAddressWatch(fd)).toBeGreaterThanOrEqual(1);
  });

  it('refuses any other descriptor without reading from it', async () => {
    const pair = await nativePair();
    cleanups.push(() => pair.close());
    pair.peer.write('keep me');
    await readable(pair.fd);
    expectSystemError(() => drainAddressWatch(pair.fd), 'EINVAL');
    expect(() => drainAddressWatch(pair.fd)).toThrow('fd is not an address watch');
    expect(receiveMessage(pair.fd, 64, 0)?.data.toString()).toBe('keep me');

    const file = path.join(makeTempDir(), 'plain');
    writeFileSync(file, 'x');
    const plain = openSync(file, 'r');
    cleanups.push(() => closeSync(plain));
    expectSystemError(() => drainAddressWatch(plain), 'ENOTSOCK');
    expectSystemError(() => drainAddressWatch(2 ** 31 - 1), 'EBADF');
  });

  it.each([
    [-1, RangeError],
    [1.5, RangeError],
    [2 ** 31, RangeError],
    ['3', TypeError],
    [undefined, TypeError],
  ])('refuses fd %p in TypeScript and again in C', (fd, kind) => {
    expect(() => drainAddressWatch(fd as number)).toThrow(kind);
    expect(() => loadBinding().drainAddressWatch(fd as number)).toThrow(kind);
  });

  it('leaks nothing: each watch is one descriptor, gone when closed', () => {
    const before = openFdCount();
    const fds = Array.from({ length: 20 }, () => openAddressWatch());
    expect(openFdCount()).toBe(before + 20);
    for (const fd of fds) closeSync(fd);
    expect(openFdCount()).toBe(before);
  });
});
