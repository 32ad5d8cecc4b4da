// The Node forwarders under test, each run in a process of its own (so its
// CPU and memory are its own): `serve berth PORT TARGET` is Berth's Forwarder
// on a socket from acquireListener, as a published port gets it (`serve berth-js`:
// the same on the JS data plane, the fallback);
// `serve naive PORT TARGET` is the baseline from the field notes, a Node
// server that pipe()s each connection to the target and back.
// Prints "ready" on stdout once it listens; SIGTERM ends it (cleanly, so
// --cpu-prof can write its profile).
import net from 'node:net';
import { acquireListener } from '../main/core/ports/bind';
import { Forwarder, type DataPlane } from '../main/core/ports/forwarder';

async function serveBerth(port: number, target: number, plane?: DataPlane): Promise<void> {
  // Port ≥ 1024 on loopback: bound directly, the helper is never asked.
  const { fd } = await acquireListener({ address: '127.0.0.1', port }, { helper: async () => undefined, privilegedPortMapping: false });
  // No plane named: the one a published port gets (native where it runs; BERTH_DATA_PLANE=js forces JS).
  await Forwarder.listen(fd, { host: '127.0.0.1', port: target }, plane ? { plane } : {});
}

async function serveNaive(port: number, target: number): Promise<void> {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    // Only what keeps the process alive: a reset on one side ends the other.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', 511, resolve));
}

export async function serveProxy(args: readonly string[]): Promise<void> {
  const [kind, portText, targetText] = args;
  const port = Number(portText);
  const target = Number(targetText);
  if (!Number.isInteger(port) || !Number.isInteger(target) || port < 1 || port > 65535 || target < 1 || target > 65535) {
    throw new Error('usage: serve berth|berth-js|naive PORT TARGET_PORT (ports 1-65535)');
  }
  if (kind === 'berth') await serveBerth(port, target);
  else if (kind === 'berth-js') await serveBerth(port, target, 'js');
  else if (kind === 'naive') await serveNaive(port, target);
  else throw new Error(`unknown forwarder "${String(kind).slice(0, 20)}": berth, berth-js or naive`);
  // exit() rather than the default death by signal: --cpu-prof writes its profile on exit.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}
