import { closeSync, fstatSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKeyPair, signPolicy, type PortRules } from '../../../common/policy';
import { opContext } from '../../../test/support/op-context';
import { refusal } from '../../../test/support/refusal';
import { safeScratchDir } from '../../../test/support/scratch';
import { finished, firstLine, runFixtureAs, spawnFixtureAs, startHelper, type HelperProcess } from '../../../test/support/processes';
import { storePolicy } from '../store-policy';
import { holdersIn } from './holders';
import { bindPort } from '.';

const users = inject('users');

/** A root service listening on address:port, as cupsd on 127.0.0.1:631 does. */
function rootListens(address: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: address, port, ipv6Only: true }, () => resolve(server));
  });
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('bindPort hands out only what the user cannot do, as the user (the real helper, a real user)', () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
  });

  const bind = (address: string, port: number, protocol = 'tcp'): Promise<Record<string, unknown>> =>
    runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, address, String(port), protocol]);

  it('gives the socket to the caller: its inode, /proc/net and ss see the user, not root', async () => {
    expect(await bind('127.0.0.1', 90)).toMatchObject({ ok: true, owner: users.test.uid });
    expect(await bind('127.0.0.1', 91, 'udp')).toMatchObject({ ok: true, owner: users.test.uid });
    // While the user serves on it, the kernel's table names the user as the listener's owner.
    const server = spawnFixtureAs(users.test, 'helper-client', ['serve-http', helper.socketPath, '127.0.0.1', '92']);
    const done = finished(server);
    expect(await firstLine(server)).toEqual({ ok: true, ready: true });
    expect(holdersIn(readFileSync('/proc/net/tcp', 'utf8'), 92, 'tcp')).toEqual([{ address: '127.0.0.1', port: 92, uid: users.test.uid }]);
    server.kill('SIGTERM');
    await done;
  });

  it('says NOT_NEEDED for a port the user may bind itself, and binds nothing', async () => {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    const reply = await bind('127.0.0.1', start);
    expect(reply).toMatchObject({ ok: false, code: 'NOT_NEEDED' });
    expect(reply.message).toContain('ip_unprivileged_port_start');
    expect(await bind('127.0.0.1', 8080)).toMatchObject({ ok: false, code: 'NOT_NEEDED' });
    expect(holdersIn(readFileSync('/proc/net/tcp', 'utf8'), start, 'tcp')).toEqual([]);
  });

  it('serves privileged UDP on loopback only: 0.0.0.0:53 and [::]:53 are refused, 127.0.0.1:53 and [::1]:53 served', async () => {
    for (const address of ['0.0.0.0', '::']) {
      const reply = await bind(address, 53, 'udp');
      expect(reply, address).toMatchObject({ ok: false, code: 'NOT_ALLOWED' });
      expect(reply.message).toContain('loopback addresses only');
    }
    expect(holdersIn(readFileSync('/proc/net/udp', 'utf8'), 53, 'udp')).toEqual([]);
    expect(await bind('127.0.0.1', 53, 'udp')).toMatchObject({ ok: true });
    expect(await bind('::1', 53, 'udp')).toMatchObject({ ok: true });
  });

  it("refuses to shadow root's service on a sibling address (127.0.0.1 <-> ::1, wildcard <-> specific), naming the holder", async () => {
    const cups = await rootListens('127.0.0.1', 631);
    const wild = await rootListens('0.0.0.0', 632);
    const six = await rootListens('::1', 633);
    try {
      const shadow = await bind('::1', 631);
      expect(shadow).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      expect(shadow.message).toContain('a program of root serves 127.0.0.1:631');
      expect(await bind('::1', 632)).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      expect(await bind('::', 633)).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      expect(await bind('127.0.0.1', 633)).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      // Nothing was bound: the only socket on [::1]:631 is none at all.
      expect(holdersIn(readFileSync('/proc/net/tcp6', 'utf8'), 631, 'tcp')).toEqual([]);
      // An unrelated address stays free to use.
      expect(await bind('127.0.0.2', 631)).toMatchObject({ ok: true });
    } finally {
      await Promise.all([close(cups), close(wild), close(six)]);
    }
  });

  it('refuses to shadow a dual-stack root service on ::ffff:127.0.0.1 (as Java binds 127.0.0.1)', async () => {
    const dual = await new Promise<Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host: '::ffff:127.0.0.1', port: 635 }, () => resolve(server));
    });
    try {
      const shadow = await bind('::1', 635);
      expect(shadow).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      expect(shadow.message).toContain('a program of root serves 127.0.0.1:635');
    } finally {
      await close(dual);
    }
  });

  it("lets the user pair their own sockets (localhost on both 127.0.0.1 and ::1)", async () => {
    const server = spawnFixtureAs(users.test, 'helper-client', ['serve-http', helper.socketPath, '127.0.0.1', '634']);
    const done = finished(server);
    await firstLine(server);
    expect(await bind('::1', 634)).toMatchObject({ ok: true, owner: users.test.uid });
    server.kill('SIGTERM');
    await done;
  });
});

describe("the organization's port rules bind the helper itself", () => {
  const org = generateKeyPair();
  const DAY = 86_400_000;

  async function context(portRules: PortRules) {
    const root = safeScratchDir('berth-port-rules');
    const stateDir = join(root, 'state');
    mkdirSync(stateDir, { mode: 0o755 });
    const ctx = opContext({ stateDir, orgPublicKey: org.publicKeyPem }, users.test.uid);
    const policy = signPolicy(
      {
        organization: 'Example Corp',
        version: 1,
        issued: new Date(Date.now() - DAY).toISOString(),
        expires: new Date(Date.now() + DAY).toISOString(),
        allowedRegistries: [],
        lockedSettings: {},
        portRules,
      },
      org.privateKeyPem,
    );
    await storePolicy({ policy }, ctx);
    return ctx;
  }

  const request = (address: string, port: number, protocol: 'tcp' | 'udp' = 'tcp') => ({ address, port, protocol });

  it('refuses denied ports, ports outside the allowed list, wildcards and UDP as the policy says, naming the organization', async () => {
    const ctx = await context({ allow: [80, '440-449'], deny: [445], wildcardAddresses: false, udp: 'none' });
    const cases: Array<[ReturnType<typeof request>, RegExp]> = [
      [request('127.0.0.1', 445), /port 445 is on its list of denied ports/],
      [request('127.0.0.1', 81), /port 81 is not among its allowed ports \(80, 440-449\)/],
      [request('0.0.0.0', 80), /may not listen on every address/],
      [request('::', 443), /may not listen on every address/],
      [request('127.0.0.1', 80, 'udp'), /UDP ports may not be published/],
    ];
    for (const [args, message] of cases) {
      const error = await refusal(() => bindPort(args, ctx));
      expect(error, JSON.stringify(args)).toMatchObject({ code: 'LOCKED_BY_POLICY' });
      expect(error.message).toMatch(message);
      expect(error.message).toContain("Example Corp's policy");
    }
    const { fds } = await bindPort(request('127.0.0.1', 443), ctx);
    expect(fstatSync(fds![0]!).uid).toBe(users.test.uid);
    closeSync(fds![0]!);
  });

  it('lets a policy widen privileged UDP beyond loopback', async () => {
    const ctx = await context({ udp: 'any' });
    const { fds } = await bindPort(request('0.0.0.0', 123, 'udp'), ctx);
    closeSync(fds![0]!);
    const loopbackOnly = await context({ udp: 'loopback' });
    expect(await refusal(() => bindPort(request('0.0.0.0', 124, 'udp'), loopbackOnly))).toMatchObject({ code: 'LOCKED_BY_POLICY' });
  });
});
