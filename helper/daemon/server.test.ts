import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sendMessage } from '../../native';
import { HelperClient } from '../../main/helper-client';
import { startHelper, finished, firstLine, runFixtureAs, spawnFixtureAs, type HelperProcess } from '../../test/support/processes';
import { RawClient } from '../../test/support/raw-client';
import { socketFd } from './socket-fd';

const users = inject('users');

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Proof the helper still serves: a fresh, well-behaved client says hello. */
async function stillServes(helper: HelperProcess): Promise<void> {
  const client = await HelperClient.connect(helper.socketPath);
  expect(client.info.protocol).toBe(1);
  client.close();
}

describe('helper, as root, with an unprivileged client', () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
  });

  it('cannot bind 127.0.0.1:80 directly as the user (the reason the helper exists)', async () => {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    expect(start).toBeGreaterThan(80);
    const direct = await runFixtureAs(users.test, 'helper-client', ['direct-bind', '127.0.0.1', '80']);
    expect(direct).toMatchObject({ ok: false, code: 'EACCES' });
  });

  it('binds 127.0.0.1:80 through the helper and serves real HTTP as the user', async () => {
    const server = spawnFixtureAs(users.test, 'helper-client', ['serve-http', helper.socketPath, '127.0.0.1', '80']);
    const done = finished(server);
    expect(await firstLine(server)).toEqual({ ok: true, ready: true });
    for (let i = 0; i < 3; i++) {
      expect(await httpGet('http://127.0.0.1:80/')).toEqual({ status: 200, body: `served by uid ${users.test.uid}` });
    }
    server.kill('SIGTERM');
    expect((await done).code).toBe(0);
    // The helper kept no copy: with the user's server gone, the port is free again.
    const again = await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '80', 'tcp']);
    expect(again).toEqual({ ok: true, address: '127.0.0.1', port: 80, protocol: 'tcp', owner: users.test.uid });
  });

  it('binds IPv6 and UDP sockets too', async () => {
    expect(await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '::1', '81', 'tcp'])).toMatchObject({
      ok: true,
    });
    expect(await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '53', 'udp'])).toMatchObject(
      { ok: true, protocol: 'udp' },
    );
  });

  it('writes each privileged action to the audit log with the peer and the result', async () => {
    await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '82', 'tcp']);
    const entry = helper.auditEntries().find((e) => (e.args as { port?: number } | undefined)?.port === 82);
    expect(entry).toMatchObject({
      op: 'bindPort',
      peer: { uid: users.test.uid },
      args: { address: '127.0.0.1', port: 82, protocol: 'tcp' },
      result: 'ok',
    });
    expect(typeof (entry!.peer as { pid: number }).pid).toBe('number');
    expect(Date.parse(entry!.time as string)).not.toBeNaN();
  });

  it('answers each bad bindPort with its code and keeps serving', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ address: 'localhost' }, 'BAD_REQUEST', /address: must be a literal/],
      [{ address: '10.0.0.0/8' }, 'BAD_REQUEST', /literal/],
      [{ port: 0 }, 'BAD_REQUEST', /port/],
      [{ port: 70000 }, 'BAD_REQUEST', /port/],
      [{ port: '80' }, 'BAD_REQUEST', /port/],
      [{ protocol: 'sctp' }, 'BAD_REQUEST', /protocol/],
    ];
    const raw = await RawClient.open(helper.socketPath);
    expect(await raw.hello()).toMatchObject({ ok: true });
    let id = 10;
    for (const [change, code, message] of cases) {
      raw.send({ id: ++id, op: 'bindPort', args: { address: '127.0.0.1', port: 83, protocol: 'tcp', ...change } });
      const reply = await raw.next();
      expect(reply, JSON.stringify(change)).toMatchObject({ id, ok: false, error: { code } });
      expect(reply!.ok === false && reply!.error.message).toMatch(message);
    }
    raw.destroy();
    // Binding is for the user (root binds itself): an address this machine lacks, asked by the user.
    const missing = await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '192.0.2.1', '83', 'tcp']);
    expect(missing).toMatchObject({ ok: false, code: 'ADDRESS_UNAVAILABLE', message: expect.stringMatching(/not an address of this machine/) });
    await stillServes(helper);
  });

  it('says PORT_IN_USE for a port someone already listens on', async () => {
    const holder = spawnFixtureAs(users.test, 'helper-client', ['serve-http', helper.socketPath, '127.0.0.1', '84']);
    const done = finished(holder);
    await firstLine(holder);
    const second = await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '84', 'tcp']);
    expect(second).toMatchObject({ ok: false, kind: 'request', code: 'PORT_IN_USE' });
    holder.kill('SIGTERM');
    await done;
  });

  it('refuses an account that is not enrolled, by its uid, with a sentence that names only that uid', async () => {
    const refused = await runFixtureAs(users.other, 'helper-client', ['hello', helper.socketPath]);
    expect(refused).toMatchObject({ ok: false, kind: 'request', code: 'UNAUTHORIZED' });
    expect(refused.message).toBe(
      `Berth's helper on this machine is not set up for your account (uid ${users.other.uid}): ` +
        `choose "Install helper" in Berth or run "berth helper install" to enrol, which asks for an administrator's password`,
    );
    // It learns that a helper exists, and nothing of who else uses it.
    expect(refused.message).not.toContain(String(users.test.uid));
    const bind = await runFixtureAs(users.other, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '85', 'tcp']);
    expect(bind).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(helper.auditEntries()).toContainEqual(
      expect.objectContaining({ op: 'connect', result: 'UNAUTHORIZED', peer: expect.objectContaining({ uid: users.other.uid }) }),
    );
    // Nothing it sent was acted on: no bindPort of its is on record.
    expect(helper.auditEntries().filter((e) => e.op === 'bindPort' && (e.peer as { uid: number }).uid === users.other.uid)).toEqual([]);
    await stillServes(helper);
  });

  it('accepts root, and tells it that it binds ports itself', async () => {
    const client = await HelperClient.connect(helper.socketPath);
    const refused = await client.bindPort({ address: '127.0.0.1', port: 86, protocol: 'tcp' }).catch((error: unknown) => error);
    client.close();
    expect(refused).toMatchObject({ code: 'NOT_NEEDED', message: expect.stringContaining('root binds ports itself') });
  });

  it('requires hello before anything else', async () => {
    const raw = await RawClient.open(helper.socketPath);
    raw.send({ id: 1, op: 'bindPort', args: { address: '127.0.0.1', port: 87, protocol: 'tcp' } });
    expect(await raw.next()).toMatchObject({ id: 1, ok: false, error: { code: 'BAD_REQUEST', message: /hello first/ } });
    raw.destroy();
  });

  it('tells a client from the future that the helper needs an update', async () => {
    const raw = await RawClient.open(helper.socketPath);
    raw.send({ id: 1, op: 'hello', args: { protocol: [2, 3], client: 'future' } });
    expect(await raw.next()).toMatchObject({
      ok: false,
      error: { code: 'UNSUPPORTED_VERSION', message: /helper needs update/ },
    });
    raw.destroy();
  });
});

describe('helper under bad input', () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid, extraArgs: ['--frame-deadline-ms', '1000'] });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
  });

  it('answers garbage bytes with BAD_REQUEST and hangs up', async () => {
    const raw = await RawClient.open(helper.socketPath);
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await raw.next()).toMatchObject({ id: null, ok: false, error: { code: 'BAD_REQUEST' } });
    await raw.closed;
    await stillServes(helper);
  });

  it('refuses a 4 GiB length prefix at once', async () => {
    const raw = await RawClient.open(helper.socketPath);
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7b]));
    expect(await raw.next()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: /frame length 4294967295/ } });
    await raw.closed;
    await stillServes(helper);
  });

  it('assembles a frame sent one byte at a time', async () => {
    const raw = await RawClient.open(helper.socketPath);
    const frame = Buffer.from(
      JSON.stringify({ id: 3, op: 'hello', args: { protocol: [1, 1], client: 'slow' } }),
    );
    const bytes = Buffer.concat([Buffer.from([0, 0, frame.length >> 8, frame.length & 0xff]), frame]);
    for (const byte of bytes) {
      raw.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await raw.next()).toMatchObject({ id: 3, ok: true });
    raw.destroy();
  });

  it('hangs up on a frame left unfinished past the deadline, serving others meanwhile', async () => {
    const raw = await RawClient.open(helper.socketPath);
    raw.write(Buffer.from([0, 0, 0, 50, 0x7b]));
    await stillServes(helper);
    expect(await raw.next()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: /not completed within 1000 ms/ } });
    await raw.closed;
  });

  it('refuses deep JSON, unknown ops and prototype keys, on the same connection', async () => {
    const raw = await RawClient.open(helper.socketPath);
    expect(await raw.hello()).toMatchObject({ ok: true });
    raw.write(Buffer.concat([Buffer.from([0, 0, 0xc3, 0x50]), Buffer.from('['.repeat(25_000) + ']'.repeat(25_000))]));
    expect(await raw.next()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: /nested deeper/ } });
    raw.send({ id: 5, op: 'runCommand', args: { command: '/bin/sh' } });
    expect(await raw.next()).toMatchObject({ id: 5, ok: false, error: { code: 'UNKNOWN_OP' } });
    raw.write(
      (() => {
        const body = Buffer.from('{"id":6,"op":"hello","args":{"protocol":[1,1],"client":"x","__proto__":{"x":1}}}');
        const header = Buffer.alloc(4);
        header.writeUInt32BE(body.length);
        return Buffer.concat([header, body]);
      })(),
    );
    expect(await raw.next()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: /__proto__/ } });
    expect(await raw.hello()).toMatchObject({ ok: true });
    raw.destroy();
  });

  it('drops fds a client sends without being asked, keeping none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-fds-'));
    const marker = join(dir, 'marker');
    writeFileSync(marker, '');
    const raw = await RawClient.open(helper.socketPath);
    expect(await raw.hello()).toMatchObject({ ok: true });
    const files = Array.from({ length: 8 }, () => openSync(marker, 'r'));
    const frame = Buffer.from(JSON.stringify({ id: 9, op: 'hello', args: { protocol: [1, 1], client: 'fds' } }));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(frame.length);
    sendMessage(socketFd(raw.socket), Buffer.concat([header, frame]), files);
    for (const fd of files) closeSync(fd);
    expect(await raw.next()).toMatchObject({ id: 9, ok: true });
    // The helper reads with read(2): the kernel discards the passed fds, none land in the helper.
    expect(helper.fdTargets()).not.toContain(marker);
    raw.destroy();
    await stillServes(helper);
    rmSync(dir, { recursive: true });
  });

  it('survives a client that disconnects mid-request, leaking nothing', async () => {
    const before = helper.fdCount();
    for (let i = 0; i < 20; i++) {
      const raw = await RawClient.open(helper.socketPath);
      expect(await raw.hello()).toMatchObject({ ok: true });
      // A whole bindPort request, then gone before the reply (and its fd) can be read.
      raw.send({ id: 2, op: 'bindPort', args: { address: '127.0.0.1', port: 88, protocol: 'tcp' } });
      raw.destroy();
      const half = await RawClient.open(helper.socketPath);
      half.write(Buffer.from([0, 0, 0, 40, 0x7b, 0x22]));
      half.destroy();
    }
    await stillServes(helper);
    // Every bound socket was closed by the helper after the reply failed.
    await expect.poll(() => helper.fdCount()).toBeLessThanOrEqual(before);
    const again = await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '88', 'tcp']);
    expect(again).toMatchObject({ ok: true });
  });

  it('serves 200 concurrent clients, each once, none lost', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const client = await HelperClient.connect(helper.socketPath, { busyRetries: 12 });
        const info = client.info;
        client.close();
        return info.protocol;
      }),
    );
    expect(results).toEqual(Array(200).fill(1));
  });

  it('caps open connections: the excess get BUSY, and the helper serves again once they go', async () => {
    const held = await Promise.all(Array.from({ length: 200 }, () => RawClient.open(helper.socketPath)));
    const replies = await Promise.all(held.map((raw) => raw.hello()));
    const ok = replies.filter((r) => r?.ok === true).length;
    const busy = replies.filter((r) => r?.ok === false && r.error.code === 'BUSY').length;
    expect(ok).toBe(64);
    expect(busy).toBe(136);
    for (const raw of held) raw.destroy();
    await Promise.all(held.map((raw) => raw.closed));
    await stillServes(helper);
  });
});

describe('helper lifecycle', () => {
  it('removes its socket on SIGTERM and exits 0', async () => {
    const helper = await startHelper({ allowUid: users.test.uid });
    expect(existsSync(helper.socketPath)).toBe(true);
    expect(await helper.stop()).toBe(0);
    expect(existsSync(helper.socketPath)).toBe(false);
  });

  it('replaces a stale socket nobody answers on, but not a live one or a file', async () => {
    const first = await startHelper({ allowUid: users.test.uid });
    const dir = first.dir;
    // A second helper on the same path is refused while the first answers.
    await expect(startHelper({ allowUid: users.test.uid, dir })).rejects.toThrow(/already serving/);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    expect(existsSync(first.socketPath)).toBe(true); // the crash left it behind
    const second = await startHelper({ allowUid: users.test.uid, dir });
    await stillServes(second);
    expect(await second.stop()).toBe(0);

    writeFileSync(first.socketPath, 'precious');
    await expect(startHelper({ allowUid: users.test.uid, dir })).rejects.toThrow(/not a socket; refusing/);
    expect(readFileSync(first.socketPath, 'utf8')).toBe('precious');
  });

  it('refuses a socket directory others can write to', async () => {
    const open = mkdtempSync(join(tmpdir(), 'berth-open-'));
    chmodSync(open, 0o777);
    await expect(startHelper({ allowUid: users.test.uid, dir: open })).rejects.toThrow(
      /must not be group- or world-writable/,
    );
    expect(existsSync(join(open, 'helper.sock'))).toBe(false);
    rmSync(open, { recursive: true });
  });

  it("creates one socket, root's and connectable by all (the peer check decides), in its root-owned directory", async () => {
    const helper = await startHelper({ allowUid: [users.test.uid, users.other.uid] });
    const st = lstatSync(helper.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o666);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    const dir = lstatSync(helper.dir);
    expect([dir.uid, dir.mode & 0o777]).toEqual([0, 0o755]);
    await helper.stop();
  });
});
