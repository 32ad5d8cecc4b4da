// The forwarding benchmark's command line (bench/forwarder.ts).
import { parseArgs } from 'node:util';

const USAGE = `Usage: node dist/bench/forwarder.js [options]   (as root, in a private network namespace: npm run bench:forwarder -- [options])
  --rounds N            rounds, each measuring every path (default 5)
  --seconds S           seconds per figure (default 3)
  --paths LIST          of direct,socat,haproxy,berth,berth80,run (default all)
  --plane LIST          BERTH_DATA_PLANE for berth app, e.g. js,native: one app (and its rows) per plane
                        (default: the build's own plane, the variable unset)
  --burst-gb N          the burst through a mapping before its memory is read again (default 10; 0 skips)
  --idle-connections N  idle connections for the per-connection memory (default 1000; 0 skips)
  --udp-clients N       clients of the UDP load, one request outstanding each (default 16)
  --json FILE           also write the results as JSON here (default bench/results/<start time>.json)
`;

export interface Options {
  rounds: number;
  seconds: number;
  paths: string[];
  planes: Array<string | undefined>;
  burstGb: number;
  idleConnections: number;
  udpClients: number;
  json: string | undefined;
}

export function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '3' },
      paths: { type: 'string', default: 'direct,socat,haproxy,berth,berth80,run' },
      plane: { type: 'string' },
      'burst-gb': { type: 'string', default: '10' },
      'idle-connections': { type: 'string', default: '1000' },
      'udp-clients': { type: 'string', default: '16' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const whole = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}\n${USAGE}`);
    return n;
  };
  const paths = values.paths.split(',').map((p) => p.trim());
  const unknown = paths.filter((p) => !['direct', 'socat', 'haproxy', 'berth', 'berth80', 'run'].includes(p));
  if (unknown.length > 0) throw new Error(`--paths: unknown ${unknown.join(', ')}\n${USAGE}`);
  const planes = values.plane === undefined ? [undefined] : values.plane.split(',').map((p) => p.trim());
  if (planes.some((p) => p !== undefined && !/^[a-z]{1,16}$/.test(p))) throw new Error(`--plane takes names such as js,native\n${USAGE}`);
  return {
    rounds: whole('rounds', values.rounds, 1),
    seconds: whole('seconds', values.seconds, 1),
    paths,
    planes,
    burstGb: whole('burst-gb', values['burst-gb'], 0),
    idleConnections: whole('idle-connections', values['idle-connections'], 0),
    udpClients: whole('udp-clients', values['udp-clients'], 1),
    json: values.json,
  };
}

