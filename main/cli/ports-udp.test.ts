import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { berthIn, freshHome, startApp } from '../../test/support/app';
import { startHelper, type HelperProcess } from '../../test/support/processes';

/**
 * `berth ports` with UDP, as users run it: `berth app` as the unprivileged
 * test user, the CLI through its control socket, the real root helper for a
 * port below 1024, and real datagrams.
 */
const users = inject('users');
/** A UDP port below 1024 no other test file uses in this namespace. */
const LOW_UDP_PORT = 491;

let helper: HelperProcess;
let target: dgram.Socket;
let targetPort: number;

beforeAll(async () => {
  helper = await startHelper({ allowUid: users.test.uid });
  target = dgram.createSocket('udp4');
  target.on('message', (data, from) => target.send(`answer to ${data.toString()}`, from.port, from.address));
  await new Promise<void>((resolve) => target.bind(0, '127.0.0.1', resolve));
  targetPort = target.address().port;
});

afterAll(async () => {
  await helper.stop();
  target.close();
});

/** One question to 127.0.0.1:PORT over UDP, and the answer with who sent it. */
async function ask(port: number, text: string): Promise<{ text: string; from: string }> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve) => {
      socket.once('message', (data, info) => resolve({ text: data.toString(), from: `${info.address}:${info.port}` }));
      socket.send(text, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

describe('berth ports with UDP, through the running app', () => {
  test(`adds ${LOW_UDP_PORT}/udp in Docker's form through the helper, lists it with /udp, answers datagrams, and rm frees it`, async () => {
    const home = freshHome(users.test);
    const app = await startApp(users.test, home, ['--helper-socket', helper.socketPath]);
    try {
      const added = await berthIn(users.test, home, ['ports', 'add', `${LOW_UDP_PORT}:${targetPort}/udp`]);
      expect(added.stderr).toBe('');
      expect(added.stdout).toBe(
        `Understood "${LOW_UDP_PORT}:${targetPort}/udp" as 127.0.0.1:${LOW_UDP_PORT}/udp → 127.0.0.1:${targetPort}.\n` +
          `Published 127.0.0.1:${LOW_UDP_PORT}/udp -> 127.0.0.1:${targetPort} (bound by the helper).\n`,
      );
      expect(added.code).toBe(0);
      expect(helper.auditEntries()).toContainEqual(
        expect.objectContaining({ op: 'bindPort', result: 'ok', args: { address: '127.0.0.1', port: LOW_UDP_PORT, protocol: 'udp' } }),
      );
      expect(await ask(LOW_UDP_PORT, 'one')).toEqual({ text: 'answer to one', from: `127.0.0.1:${LOW_UDP_PORT}` });

      const table = await berthIn(users.test, home, ['ports', 'ls']);
      expect(table.stdout.split('\n')[1]).toMatch(new RegExp(`^127\\.0\\.0\\.1:${LOW_UDP_PORT}/udp +127\\.0\\.0\\.1:${targetPort} +helper +1/1 +3 B +13 B +listening$`));
      const json = JSON.parse((await berthIn(users.test, home, ['ports', 'ls', '--json'])).stdout) as unknown[];
      expect(json).toMatchObject([{ id: `127.0.0.1:${LOW_UDP_PORT}/udp`, spec: { protocol: 'udp' }, packets: { in: 1, out: 1 } }]);

      // The TCP port of the same number is not the UDP mapping: rm without /udp finds nothing.
      const wrong = await berthIn(users.test, home, ['ports', 'rm', String(LOW_UDP_PORT)]);
      expect(wrong).toMatchObject({ code: 1, stderr: `berth ports: 127.0.0.1:${LOW_UDP_PORT} is not published\n` });
      const removed = await berthIn(users.test, home, ['ports', 'rm', `${LOW_UDP_PORT}/udp`]);
      expect(removed.stdout).toBe(`Removed 127.0.0.1:${LOW_UDP_PORT}/udp; the port is free.\n`);
      // Free: root binds it at once, without any reuse option.
      const again = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.bind(LOW_UDP_PORT, '127.0.0.1', resolve);
      });
      again.close();
      expect((await app.call('state.get')).result).toMatchObject({ ports: [] });
    } finally {
      await app.stop();
    }
  });

  test('refuses 0.0.0.0:53/udp with the sentence and exit 1, and publishes nothing', async () => {
    const home = freshHome(users.test);
    const app = await startApp(users.test, home, ['--helper-socket', helper.socketPath]);
    try {
      const refused = await berthIn(users.test, home, ['ports', 'add', `0.0.0.0:${LOW_UDP_PORT}=${targetPort}/udp`]);
      expect(refused).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `berth ports: 0.0.0.0:${LOW_UDP_PORT}/udp needs the privileged helper, which serves UDP ports below 1024 on loopback addresses only unless your organization's policy allows more: use 127.0.0.1:${LOW_UDP_PORT}/udp, or a port from 1024 up\n`,
      });
      expect((await app.call('state.get')).result).toMatchObject({ ports: [] });
    } finally {
      await app.stop();
    }
  });
});
