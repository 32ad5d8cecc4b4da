// A DNS-style UDP load for the forwarding benchmark, in processes of their own:
//   node udp-load.js server PORT                  an echo server on 127.0.0.1:PORT (the target)
//   node udp-load.js client PORT CLIENTS SECONDS  CLIENTS sockets, each with one 40-byte
//       request outstanding (a DNS query's size), the next sent when the answer is back;
//       prints {"requests", "lost", "rps", "p50Ms", "p99Ms"} as one JSON line.
// An answer that has not come back in LOSS_MS counts as lost, and that client sends again.
import dgram from 'node:dgram';
import { percentile } from './stats';

const REQUEST_BYTES = 40;
const LOSS_MS = 1000;

function server(port: number): void {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => socket.send(message, from.port, from.address));
  socket.bind(port, '127.0.0.1', () => process.stdout.write('ready\n'));
}

async function client(port: number, clients: number, seconds: number): Promise<void> {
  const latenciesMs: number[] = [];
  let lost = 0;
  const end = Date.now() + seconds * 1000;
  const one = (id: number): Promise<void> =>
    new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      const request = Buffer.alloc(REQUEST_BYTES);
      let sentAt = 0n;
      let seq = 0;
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (Date.now() >= end) {
          clearTimeout(timer);
          socket.close(() => resolve());
          return;
        }
        seq = (seq + 1) >>> 0;
        request.writeUInt32BE(id, 0);
        request.writeUInt32BE(seq, 4);
        sentAt = process.hrtime.bigint();
        timer = setTimeout(() => {
          lost++;
          send();
        }, LOSS_MS);
        socket.send(request);
      };
      socket.on('message', (answer) => {
        // A late answer to an earlier request (counted lost already) is not this one's.
        if (answer.length !== REQUEST_BYTES || answer.readUInt32BE(4) !== seq) return;
        clearTimeout(timer);
        latenciesMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
        send();
      });
      socket.on('error', () => undefined);
      socket.connect(port, '127.0.0.1', send);
    });
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, (_, i) => one(i)));
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  latenciesMs.sort((a, b) => a - b);
  const result = { requests: latenciesMs.length, lost, rps: latenciesMs.length / wall, p50Ms: percentile(latenciesMs, 50), p99Ms: percentile(latenciesMs, 99) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const [mode, ...args] = process.argv.slice(2);
const numbers = args.map(Number);
if (numbers.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error('udp-load: every argument is a positive number');
if (mode === 'server' && numbers.length === 1) server(numbers[0]!);
else if (mode === 'client' && numbers.length === 3) void client(numbers[0]!, numbers[1]!, numbers[2]!);
else {
  console.error('usage: udp-load server PORT | udp-load client PORT CLIENTS SECONDS');
  process.exitCode = 64;
}
