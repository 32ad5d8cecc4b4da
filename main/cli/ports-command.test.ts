import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireBackend } from './backend-access';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';
import { portsCommand, portsTable } from './ports-command';

// Berth is not running here (a control socket path nobody listens on): what
// the command says before it connects, and its usage errors. Publishing
// through the running app is in main/core/backend-ports.test.ts.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function ports(args: string[]): Promise<{ code: number | UsageError; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ports-cli-'));
  dirs.push(dir);
  let out = '';
  let err = '';
  const io: CliIO = { out: (text) => void (out += text), err: (text) => void (err += text) };
  try {
    return { code: await portsCommand(args, io, () => requireBackend(join(dir, 'control.sock'))), out, err };
  } catch (error) {
    if (error instanceof UsageError) return { code: error, out, err };
    throw error;
  }
}

describe('berth ports add', () => {
  it.each([
    [['add', '8080:80'], 'Understood "8080:80" as 127.0.0.1:8080 → 127.0.0.1:80.\n'],
    [['add', '-p', '80:3000'], 'Understood "80:3000" as 127.0.0.1:80 → 127.0.0.1:3000.\n'],
    [['add', '--publish', '[::1]:8443:443/tcp'], 'Understood "[::1]:8443:443/tcp" as [::1]:8443 → 127.0.0.1:443.\n'],
    [['add', '5353:53/udp'], 'Understood "5353:53/udp" as 127.0.0.1:5353/udp → 127.0.0.1:53.\n'],
    [['add', '-p', '[::1]:53:5353/udp'], 'Understood "[::1]:53:5353/udp" as [::1]:53/udp → 127.0.0.1:5353.\n'],
  ])('%j says once how Docker\'s form was understood, before it connects', async (args, said) => {
    const result = await ports(args);
    expect(result.out).toBe(said);
    expect(result.code).toBe(EXIT.notRunning);
  });

  it('says it on stderr with --json, so stdout stays JSON', async () => {
    const result = await ports(['add', '8080:80', '--json']);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^Understood "8080:80" as 127\.0\.0\.1:8080 → 127\.0\.0\.1:80\.\nberth: /);
  });

  it("says nothing extra for Berth's own form", async () => {
    const result = await ports(['add', '8080=80']);
    expect(result.out).toBe('');
    expect(result.code).toBe(EXIT.notRunning);
  });

  it.each([
    [['add', '8080:80/sctp'], '"8080:80/sctp" ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP'],
    [['rm', '5353:53/udp'], /^"5353:53\/udp" is a mapping .*; give only where to listen/],
    [['add', '8089=8089'], /^127\.0\.0\.1:8089 → 127\.0\.0\.1:8089 forwards to itself/],
    [['add', '-p', '0.0.0.0:8089:8089'], /^0\.0\.0\.0:8089 → 127\.0\.0\.1:8089 forwards to itself/],
    [['add', '127.0.0.1:80'], /^"127\.0\.0\.1:80" says where to listen but not where to forward; .* e\.g\. 127\.0\.0\.1:80=8080$/],
    [['add', '-p', '8080:80', '9090:90'], 'ports add takes one mapping: give it with -p or alone, not both'],
    [['rm', '-p', '8080'], '-p is for "berth ports add"; write berth ports rm [ADDR:]PORT'],
    [['rm', '8080:80'], /^"8080:80" is a mapping .*; give only where to listen/],
  ])('refuses %j before connecting: %s', async (args, message) => {
    const result = await ports(args);
    expect(result.code).toBeInstanceOf(UsageError);
    expect((result.code as UsageError).message).toMatch(message instanceof RegExp ? message : new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(result.out).toBe('');
  });
});

describe('berth ports ls', () => {
  it('names a UDP mapping by its /udp suffix, its flows as connections', () => {
    const table = portsTable([
      {
        id: '127.0.0.1:53/udp',
        spec: { address: '127.0.0.1', port: 53, protocol: 'udp', target: { host: 'localhost', port: 5353 } },
        state: 'listening',
        via: 'helper',
        error: null,
        retry: null,
        connections: { active: 1, total: 4, failed: 0 },
        bytes: { in: 120, out: 480 },
        packets: { in: 4, out: 4 },
        lastTargetError: null,
        acceptError: null,
      },
    ]);
    expect(table.split('\n')[1]).toMatch(/^127\.0\.0\.1:53\/udp {2}localhost:5353 {2}helper {2}1\/4 {4}120 B {2}480 B {2}listening$/);
  });


  it('shows a waiting port with its cause and when it tries again, as true when printed', () => {
    const now = Date.parse('2030-01-01T08:00:00.000Z');
    const table = portsTable(
      [
        {
          id: '127.0.0.1:8080',
          spec: { address: '127.0.0.1', port: 8080, target: { host: 'localhost', port: 3000 } },
          state: 'waiting',
          via: null,
          error: { code: 'PORT_IN_USE', message: '127.0.0.1:8080 is already in use by another program' },
          retry: { at: '2030-01-01T08:00:08.000Z', onAddressChange: false },
          connections: { active: 0, total: 0, failed: 0 },
          bytes: { in: 0, out: 0 },
          lastTargetError: null,
          acceptError: null,
        },
      ],
      now,
    );
    expect(table.split('\n')[1]).toMatch(/ {2}waiting: 127\.0\.0\.1:8080 is already in use by another program; trying again in 8 s$/);
  });

  it("says a port the organization's policy refuses is blocked by it, not waiting", () => {
    const row = {
      id: '127.0.0.1:443',
      spec: { address: '127.0.0.1', port: 443, target: { host: 'localhost', port: 8443 } },
      state: 'waiting' as const,
      via: null,
      error: { code: 'HELPER_NEEDED', message: 'port 443 needs the privileged helper, and privileged port mapping is turned off by Example Corp policy v3: choose a port from 1024 up' },
      retry: null,
      connections: { active: 0, total: 0, failed: 0 },
      bytes: { in: 0, out: 0 },
      lastTargetError: null,
      acceptError: null,
    };
    const table = portsTable([row], 0, { organization: 'Example Corp', portMappingLockedOff: true });
    expect(table.split('\n')[1]).toMatch(/ {2}blocked by Example Corp: port 443 needs the privileged helper, .* choose a port from 1024 up$/);
    expect(portsTable([row], 0).split('\n')[1]).toMatch(/ {2}waiting: port 443 needs/);
  });
});
