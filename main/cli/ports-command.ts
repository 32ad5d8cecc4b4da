import { parseArgs } from 'node:util';
import { ApiError, type BerthApi } from '../../common/api/backend-api';
import type { MappingStatus } from '../../common/ports/mapping';
import { formatListen, formatTarget, parseListen, parseMappingInput } from '../../common/ports/parse';
import { blockedBy, policyView, problemText, type PolicyView } from '../../common/ports/waiting';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

const NO_POLICY_VIEW: PolicyView = { organization: null, portMappingLockedOff: false };

export const PORTS_USAGE = `Usage: berth ports ls [--json]
       berth ports add [ADDR:]PORT=[HOST:]PORT[/udp] [--json]
       berth ports add [-p] [ADDR:]HOST_PORT:TARGET_PORT[/tcp|/udp] [--json]
       berth ports rm [ADDR:]PORT[/udp]

  ls    List published ports: where Berth listens, the target, the state
        (listening / waiting: for the helper, or for its port or address,
        with when it tries again / blocked by your organization's policy /
        error), how the port was bound (direct or by the helper),
        connections and bytes.
  add   Publish a port: Berth listens on ADDR:PORT (default address 127.0.0.1)
        and forwards each connection to HOST:PORT (default host 127.0.0.1).
        Ports below 1024 use the privileged helper when the OS refuses a
        direct bind. Examples:  berth ports add 80=8080
                                berth ports add 127.0.0.1:443=localhost:8443
                                berth ports add [::1]:80=[::1]:8080
        Docker's form works too (listen on HOST_PORT, forward to TARGET_PORT
        on 127.0.0.1; Berth says how it understood it):
                                berth ports add 8080:80
                                berth ports add -p 0.0.0.0:8080:80/tcp
        UDP, with Docker's /udp suffix: each client's datagrams go to
        the target from a socket of its own, and the answers come back
        from ADDR:PORT (a client is forgotten after 60 s of silence):
                                berth ports add 5353:53/udp
                                berth ports add 127.0.0.1:53=localhost:5353/udp
        UDP ports below 1024 are served on loopback (127.0.0.1, ::1) only,
        unless your organization's policy allows more. A mapping that
        forwards to itself (e.g. 8089=8089) is refused.
  rm    Stop publishing the port; it is free again at once. A UDP
        mapping is removed by its /udp name: berth ports rm 5353/udp

Published ports are kept by the running app and come back when it restarts.
These commands need Berth running (the app, or "berth app").

With --json, a refusal prints {"error": {"code", "message"}} on stdout for
scripts (the codes are in docs/CLI.md), and the sentence alone on stderr.

Exit codes: 0 ok, 1 the port could not be published (in use, not an address
of this machine, needs the helper...), 7 Berth is not running, 64 bad usage.
`;

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function stateText(status: MappingStatus, nowMs: number, policy: PolicyView): string {
  // A port the organization refuses: "blocked by Acme Corp: ...", as the app says it.
  const org = blockedBy(status, policy);
  if (org !== null) return `blocked by ${org}: ${status.error?.message ?? 'its policy'}`;
  if (status.state === 'error') return `error: ${status.error?.message ?? 'unknown'}`;
  // With when it tries next, if it waits for its port or address: true now, as the table is printed now.
  if (status.state === 'waiting') return `waiting: ${problemText(status, nowMs) ?? 'for the helper'}`;
  if (status.acceptError !== null) return `${status.state}: ${status.acceptError}`;
  return status.lastTargetError !== null ? `${status.state} (target: ${status.lastTargetError})` : status.state;
}

export function portsTable(ports: readonly MappingStatus[], nowMs = Date.now(), policy: PolicyView = NO_POLICY_VIEW): string {
  if (ports.length === 0) return 'No published ports. Add one with: berth ports add 80=8080\n';
  const rows = [
    // CONNS for UDP: client flows, open/total.
    ['LISTEN', 'TARGET', 'VIA', 'CONNS', 'IN', 'OUT', 'STATE'],
    ...ports.map((p) => [
      formatListen(p.spec),
      formatTarget(p.spec.target),
      p.via ?? '-',
      `${p.connections.active}/${p.connections.total}`,
      human(p.bytes.in),
      human(p.bytes.out),
      stateText(p, nowMs, policy),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** `berth ports ...` through the running app; `connect` gives the control-socket client. */
export async function portsCommand(argv: string[], io: CliIO, connect: () => Promise<BerthApi & { close(): void }>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(PORTS_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== 'ls' && sub !== 'add' && sub !== 'rm') throw new UsageError(`unknown ports command "${sub}"`);
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, publish: { type: 'string', short: 'p' } },
  });
  if (values.help) {
    io.out(PORTS_USAGE);
    return EXIT.ok;
  }
  // `-p MAPPING` as Docker users type it out of habit: the same as the mapping alone.
  if (values.publish !== undefined) {
    if (sub !== 'add') throw new UsageError(`-p is for "berth ports add"; write berth ports ${sub}${sub === 'rm' ? ' [ADDR:]PORT' : ''}`);
    if (positionals.length > 0) throw new UsageError('ports add takes one mapping: give it with -p or alone, not both');
    positionals.push(values.publish);
  }
  const expected = sub === 'ls' ? 0 : 1;
  if (positionals.length !== expected) {
    throw new UsageError(sub === 'ls' ? 'ports ls takes no arguments' : `ports ${sub} takes exactly one ${sub === 'add' ? 'mapping' : 'port'}`);
  }
  // Parse before connecting: a typo is a usage error whether or not Berth runs.
  let request: (api: BerthApi) => Promise<number>;
  try {
    if (sub === 'add') {
      const { spec, understood } = parseMappingInput(positionals[0]!);
      // Docker's form is read Berth's way: said once, before anything is published (stderr with --json, so stdout stays JSON).
      if (understood !== undefined && values.json) io.err(`${understood}\n`);
      else if (understood !== undefined) io.out(`${understood}\n`);
      request = async (api) => {
        const status = await api.call('ports.add', spec);
        io.out(values.json ? `${JSON.stringify(status, null, 2)}\n` : `Published ${formatListen(spec)} -> ${formatTarget(spec.target)} (${status.via === 'helper' ? 'bound by the helper' : 'bound directly'}).\n`);
        return EXIT.ok;
      };
    } else if (sub === 'rm') {
      const key = parseListen(positionals[0]!);
      request = async (api) => {
        await api.call('ports.remove', key);
        io.out(values.json ? `${JSON.stringify({ removed: formatListen(key) })}\n` : `Removed ${formatListen(key)}; the port is free.\n`);
        return EXIT.ok;
      };
    } else {
      request = async (api) => {
        const state = await api.call('state.get', {});
        io.out(values.json ? `${JSON.stringify(state.ports, null, 2)}\n` : portsTable(state.ports, Date.now(), policyView(state)));
        return EXIT.ok;
      };
    }
  } catch (error) {
    // The parsers' errors are one sentence (ApiError INVALID): a usage error here.
    if (error instanceof ApiError) throw new UsageError(error.message);
    throw error;
  }
  let api;
  try {
    api = await connect();
  } catch (error) {
    io.err(`berth: ${(error as Error).message}\n`);
    return EXIT.notRunning;
  }
  try {
    return await request(api);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // The code is for scripts (--json); a person reads the sentence.
    if (values.json) io.out(`${JSON.stringify({ error: { code: error.code, message: error.message } }, null, 2)}\n`);
    io.err(`berth ports: ${error.message}\n`);
    return error.code === 'INVALID' ? EXIT.usage : EXIT.error;
  } finally {
    api.close();
  }
}
