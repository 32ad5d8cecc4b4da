import { parseArgs } from 'node:util';
import type { Capabilities } from '../../common/api/capabilities';
import { describePortRules } from '../../common/policy/port-rules';
import { formatDay } from '../../common/text/dates';
import { EXIT } from './exit-codes';
import { diagnosisRows, exitFor } from './helper-command';
import type { CliIO } from './io';

export const STATUS_USAGE = `Usage: berth status [--json]

  What this machine and install allow: the privileged helper (state, version,
  whether it needs an update), user mode and its limits, whether ports below
  1024 bind without the helper, where the CLI tools are linked, Berth's hosts
  entries, and the organization's policy. Works without the app running.

  --json    print the report as JSON (the same report the app shows)

Exit codes (as "berth helper status"): 0 the helper runs (or user mode), 3 not installed /
not running / not allowed, 4 needs update, 1 error.
`;

export interface StatusDeps {
  capabilities: () => Promise<Capabilities>;
}

export async function statusCommand(argv: string[], io: CliIO, deps: StatusDeps): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out(STATUS_USAGE);
    return EXIT.ok;
  }
  const report = await deps.capabilities();
  io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
  return exitFor(report.helper);
}

const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
const listOr = (items: readonly string[], none = '-'): string => (items.length > 0 ? items.join(', ') : none);

/** The report as a two-column table; long values continue on indented lines. */
export function formatStatus(report: Capabilities): string {
  const { helper, userMode, directLowPortBind: bind, cliTools, hostsEntries: hosts, policy } = report;
  const rows: Array<[string, string | string[]]> = [
    ...diagnosisRows(helper.diagnosis),
    ['Helper version', helper.version ?? '-'],
    ['Bundled version', helper.bundledVersion],
    ['Needs update', yesNo(helper.state === 'needs-update')],
    ['Protocol', helper.protocol === null ? '-' : String(helper.protocol)],
    ['Operations', listOr(helper.operations)],
    ['User mode', userMode === null ? 'no' : [`yes, for ${userMode.user} (uid ${userMode.uid})`, ...userMode.limits.map((l) => `- ${l}`)]],
    ['Low ports, any address', yesNo(bind.anyAddress)],
    ['Low ports, one address', yesNo(bind.specificAddress)],
    ['Low ports, why', bind.detail],
    ['CLI tools', `${cliTools.location} (${cliTools.dir})`],
    ['CLI tools linked', listOr(cliTools.linked)],
    ['CLI tools missing', listOr(cliTools.missing)],
    // Only when there are some: a link root would follow into a program a user can change.
    ...(cliTools.unsafe.length > 0 ? ([['CLI tools unsafe', cliTools.unsafe.map((u) => `${u.name}: ${u.reason}`)]] as Array<[string, string[]]>) : []),
    ['Hosts entries', hosts.error !== null ? `error: ${hosts.error}` : hosts.present ? 'present' : 'absent'],
    ...(hosts.entries.length > 0 ? ([['Hosts block', hosts.entries]] as Array<[string, string[]]>) : []),
    ['Policy', policyLine(policy)],
  ];
  if (policy.state !== 'none') {
    const locked = Object.entries(policy.lockedSettings).map(([key, value]) => `${key} = ${String(value)}`);
    rows.push(['Locked settings', listOr(locked, 'none')]);
    rows.push(['Allowed registries', policy.allowedRegistries === null ? 'any' : listOr(policy.allowedRegistries, 'none')]);
    rows.push(['Port rules', policy.portRules === null ? 'none' : describePortRules(policy.portRules)]);
  }
  const width = Math.max(...rows.map(([key]) => key.length));
  const lines: string[] = [];
  for (const [key, value] of rows) {
    const [first = '', ...rest] = Array.isArray(value) ? value : [value];
    lines.push(`${key.padEnd(width)}  ${first}`);
    for (const more of rest) lines.push(`${' '.repeat(width)}  ${more}`);
  }
  return lines.join('\n') + '\n';
}

function policyLine(policy: Capabilities['policy']): string {
  if (policy.state === 'none') return 'none';
  const who = [
    policy.organization ?? 'unknown organization',
    policy.version === null ? undefined : `version ${policy.version}`,
    policy.expires === null ? undefined : `expires ${formatDay(policy.expires)}`,
  ]
    .filter((part) => part !== undefined)
    .join(', ');
  return `${policy.state}: ${who}${policy.reason !== null ? ` (${policy.reason})` : ''}`;
}
