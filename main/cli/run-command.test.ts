import { diagnoseHelper, needsHelper } from '../../common/helper/diagnosis';
import { existsSync, mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { helperInNamespace, httpGet, spawnFixture, unusedPort, type JsonLines, type NetNamespace } from '../core/ports/test-support';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';
import { runCommand } from './run-command';

const users = inject('users');
const fdServer = (): string[] => [process.execPath, join(inject('fixturesDir'), 'ports-fd-server.js')];

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await runCommand(args, io);
  return { code, out, err };
}

/** `berth run ARGS` as the unprivileged user (inside `ns` if given); stdout is CMD's (it is inherited). */
function berthRun(args: string[], ns?: NetNamespace): JsonLines {
  const process = spawnFixture('ports-run', args, { user: users.test, ...(ns ? { ns } : {}) });
  cleanups.push(async () => {
    if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
    await process.exited;
  });
  return process;
}

/** The socket inodes a process holds (`socket:[123]` links in /proc/PID/fd). */
function socketLinks(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((link) => link.startsWith('socket:'));
}

describe('berth run: usage', () => {
  it('explains itself with --help', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toMatch(/^Usage: berth run -p \[ADDR:\]PORT/);
    expect(help.out).toContain('LISTEN_FDS');
    expect(help.out).toContain('--helper-socket PATH');
    expect(help.err).toBe('');
  });

  it.each([
    [[], 'give at least one -p [ADDR:]PORT to listen on'],
    [['-p'], '-p needs a value'],
    [['-p', '70000', '--', 'true'], '-p 70000: port must be 1-65535 (got 70000)'],
    [['-p', '0', '--', 'true'], '-p 0: port must be 1-65535 (got 0)'],
    [
      ['-p', 'localhost:80', '--', 'true'],
      '-p localhost:80: localhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
    ],
    [
      ['-p', '8080:80', '--', 'true'],
      '-p 8080:80: berth run forwards nothing, so it takes no target port: CMD gets the listening socket itself; give only where to listen (e.g. -p 8080), or forward with "berth ports add 8080:80"',
    ],
    [
      ['-p', '0.0.0.0:8080:80/tcp', '--', 'true'],
      '-p 0.0.0.0:8080:80/tcp: berth run forwards nothing, so it takes no target port: CMD gets the listening socket itself; give only where to listen (e.g. -p 8080), or forward with "berth ports add 0.0.0.0:8080:80/tcp"',
    ],
    [
      ['-p', '80=3000', '--', 'true'],
      '-p 80=3000: berth run forwards nothing, so it takes no target port: CMD gets the listening socket itself; give only where to listen (e.g. -p 8080), or forward with "berth ports add 80=3000"',
    ],
    [['-p', '80/sctp', '--', 'true'], '-p 80/sctp: "80/sctp" ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP'],
    [
      ['-p', '5353:53/udp', '--', 'true'],
      '-p 5353:53/udp: berth run forwards nothing, so it takes no target port: CMD gets the listening socket itself; give only where to listen (e.g. -p 8080), or forward with "berth ports add 5353:53/udp"',
    ],
    [['-p', '80'], 'give the command to run after --, e.g. berth run -p 80 -- ./server'],
    [['-p', '80', '--'], 'give the command to run after --, e.g. berth run -p 80 -- ./server'],
    [['-x', '-p', '80', 'true'], 'unknown option "-x" (put CMD after --)'],
    [['--helper-socket', 'helper.sock', '-p', '80', 'true'], '--helper-socket must be an absolute path (got "helper.sock")'],
  ])('refuses %j with exit 64, one sentence and a pointer to --help', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toBe(`berth run: ${message}\nRun "berth run --help" for usage.\n`);
    expect(result.out).toBe('');
  });

  it('refuses the same address twice before binding anything', async () => {
    const port = unusedPort();
    const result = await run(['-p', String(port), '-p', `127.0.0.1:${port}`, '--', 'true']);
    expect(result).toEqual({ code: EXIT.usage, out: '', err: `berth run: 127.0.0.1:${port} is given twice\n` });
  });
});

describe('berth run through the real helper, as the unprivileged user', () => {
  const machine = helperInNamespace(users.test.uid);

  it('hands CMD a UDP socket on 127.0.0.1:53 (from the helper) beside a TCP one on port 53; CMD answers a datagram itself', async () => {
    const berth = berthRun(['-p', '127.0.0.1:53/udp', '-p', '127.0.0.1:53', '--helper-socket', machine.helper.socketPath, '--', ...fdServer()], machine.ns);
    const ready = await berth.next((line) => 'ready' in line);
    expect(ready).toMatchObject({ ready: true, uid: users.test.uid, listenFds: '2', fdNames: '127.0.0.1_53/udp:127.0.0.1_53', ports: [53, 53] });
    const ask = spawnFixture('ports-udp', ['ask', '127.0.0.1', '53', 'who?'], { ns: machine.ns, user: users.other });
    expect(await ask.next(() => true)).toEqual({ replies: [`udp ${ready.pid as number} ${users.test.uid} who?`], from: '127.0.0.1:53', local: expect.any(Number) });
    expect(machine.helper.auditEntries()).toContainEqual(
      expect.objectContaining({ op: 'bindPort', peer: expect.objectContaining({ uid: users.test.uid }), args: { address: '127.0.0.1', port: 53, protocol: 'udp' }, result: 'ok' }),
    );
    // CMD holds the socket, berth none: datagrams never pass through Berth.
    const udpSocket = readlinkSync(`/proc/${ready.pid as number}/fd/3`);
    expect(socketLinks(berth.child.pid!)).not.toContain(udpSocket);
  });

  it('refuses privileged UDP on 0.0.0.0 with a sentence and exit 1, before CMD starts and without asking the helper', async () => {
    const before = machine.helper.auditEntries().filter((entry) => entry.op === 'bindPort').length;
    const berth = berthRun(['-p', '0.0.0.0:53/udp', '--helper-socket', machine.helper.socketPath, '--', ...fdServer()], machine.ns);
    const { code } = await berth.exited;
    const stderr = berth.child.stderr!;
    await new Promise<void>((resolve) => (stderr.readableEnded ? resolve() : stderr.once('end', () => resolve())));
    expect(code).toBe(EXIT.error);
    expect(berth.stderr).toBe(
      "berth run: 0.0.0.0:53/udp needs the privileged helper, which serves UDP ports below 1024 on loopback addresses only unless your organization's policy allows more: use 127.0.0.1:53/udp, or a port from 1024 up\n",
    );
    expect(berth.lines).toEqual([]);
    expect(machine.helper.auditEntries().filter((entry) => entry.op === 'bindPort').length).toBe(before);
  });

  it('hands CMD 127.0.0.1:80 as fd 3 with LISTEN_FDS and its own LISTEN_PID, keeps no copy, and exits with its status', async () => {
    const berth = berthRun(['-p', '127.0.0.1:80', '--helper-socket', machine.helper.socketPath, '--', ...fdServer()], machine.ns);
    const ready = await berth.next((line) => 'ready' in line);
    expect(ready).toMatchObject({ ready: true, uid: users.test.uid, listenFds: '1', fdNames: '127.0.0.1_80' });
    // LISTEN_PID names CMD itself (not a shell, not berth).
    expect(ready.listenPid).toBe(String(ready.pid));
    expect(ready.pid).not.toBe(berth.child.pid);

    const answer = await httpGet('http://127.0.0.1:80/', machine.ns);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body!)).toMatchObject({ pid: ready.pid, uid: users.test.uid, listenPid: String(ready.pid) });
    expect(machine.helper.auditEntries()).toContainEqual(
      expect.objectContaining({ op: 'bindPort', peer: expect.objectContaining({ uid: users.test.uid }), args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' }),
    );

    // The listening socket is CMD's fd 3; berth holds no copy, so no traffic can pass through it.
    const listening = readlinkSync(`/proc/${ready.pid as number}/fd/3`);
    expect(listening).toMatch(/^socket:\[\d+\]$/);
    expect(socketLinks(berth.child.pid!)).not.toContain(listening);

    expect((await httpGet('http://127.0.0.1:80/exit/7', machine.ns)).status).toBe(200);
    expect(await berth.exited).toEqual({ code: 7, signal: null });
    // Gone with CMD: nothing listens on 127.0.0.1:80 any more.
    expect((await httpGet('http://127.0.0.1:80/', machine.ns)).error).toBe('ECONNREFUSED');
  });

  it('fails before starting CMD when the port is taken, and says so', async () => {
    const squatter = spawnFixture('ports-http', ['serve', '127.0.0.1', '80'], { ns: machine.ns });
    cleanups.push(async () => {
      squatter.child.kill('SIGTERM');
      await squatter.exited;
    });
    await squatter.next((line) => line.ready === true);
    const berth = berthRun(['-p', '127.0.0.1:80', '--helper-socket', machine.helper.socketPath, '--', 'sh', '-c', 'echo CMD-RAN'], machine.ns);
    expect((await berth.exited).code).toBe(EXIT.error);
    expect(berth.stderr).toBe('berth run: 127.0.0.1:80 is already in use by another program\n');
    expect(berth.lines).toEqual([]); // CMD never ran
  });
});

describe("berth run and the organization's port rules", () => {
  it('refuses a port the policy denies before anything binds or CMD starts, naming the policy', async () => {
    const port = unusedPort();
    const marker = join(mkdtempSync(join(tmpdir(), 'berth-run-rules-')), 'ran');
    let out = '';
    let err = '';
    const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
    const code = await runCommand(['-p', `127.0.0.1:${port}`, '--', 'touch', marker], io, {
      portRules: () => ({ rules: { deny: [port] }, source: 'Example Corp policy v4' }),
    });
    expect(code).toBe(EXIT.error);
    expect(err).toBe(`berth run: 127.0.0.1:${port} is not allowed by Example Corp policy v4: port ${port} is on its list of denied ports\n`);
    expect(out).toBe('');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('berth run without the helper', () => {
  it('exits 3 with what to do when a privileged port needs the helper, and never starts CMD', async () => {
    const berth = berthRun(['-p', '127.0.0.1:80', '--helper-socket', '/nonexistent/berth/helper.sock', '--', 'sh', '-c', 'echo CMD-RAN']);
    expect((await berth.exited).code).toBe(EXIT.helperUnavailable);
    expect(berth.stderr).toBe(
      `berth run: ${needsHelper('Port 80', diagnoseHelper('not-installed'))}\n`,
    );
    expect(berth.lines).toEqual([]);
  });

  it('binds ports ≥ 1024 directly, in order as fds 3 and 4, and passes SIGTERM on (exit 128 + 15)', async () => {
    const [first, second] = [unusedPort(), unusedPort()];
    const berth = berthRun(['-p', String(first), `--publish=127.0.0.1:${second}`, '--helper-socket', '/nonexistent/helper.sock', '--', ...fdServer()]);
    const ready = await berth.next((line) => 'ready' in line);
    expect(ready).toMatchObject({ ready: true, listenFds: '2', fdNames: `127.0.0.1_${first}:127.0.0.1_${second}`, listenPid: String(ready.pid) });
    for (const port of [first, second]) {
      expect(JSON.parse((await httpGet(`http://127.0.0.1:${port}/`)).body!)).toMatchObject({ pid: ready.pid });
    }
    // fd 3 is the first -p, fd 4 the second.
    expect(ready.ports).toEqual([first, second]);
    berth.child.kill('SIGTERM');
    expect(await berth.exited).toEqual({ code: 128 + 15, signal: null });
    expect(existsSync(`/proc/${ready.pid as number}`)).toBe(false);
  });
});
