import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CLI_TOOLS, type CliTool } from '../../common/cli-tools';
import { blockLines } from '../../common/hosts-block';
import { HOSTS_PATH } from '../../common/paths';
import { MAX_ENROLLED_UIDS, type HelperConfig } from '../../common/helper-config/schema';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { statAt } from '../../native';
import { replaceIfUnchanged, writeFileAtomically } from '../fs/atomic-write';
import { openStateDir } from '../fs/state-dir';
import type { Enrolment } from '../daemon/enrolment';
import { readLinkRecord } from './link-record';

/**
 * Who wants the things every account on the machine shares: the hosts entries
 * and the system CLI links (there is one /etc/hosts and one /usr/local/bin).
 * A user's removeHosts / removeSymlinks, or their unenrolment, must not take
 * away what another enrolled account still asked for, so each account's wish
 * is recorded here (root-owned, in the state dir, written atomically) and the
 * shared thing goes only when nobody wants it any more.
 */
export const WANTS_RECORD_NAME = 'wants.json';

/** Root may want things too (an admin's `sudo berth`); everyone else is an enrolled account. */
const uids = z
  .array(z.number().int().min(0).max(0xfffffffe))
  .max(MAX_ENROLLED_UIDS + 1)
  .refine((list) => new Set(list).size === list.length, { message: 'must not repeat a uid' });

const wantsRecord = z.strictObject({
  version: z.literal(1),
  /** Accounts that asked for the hosts entries and have not asked to remove them. */
  hosts: uids,
  /** Per CLI tool: accounts that asked for its system link. */
  links: z.partialRecord(z.enum(CLI_TOOLS), uids),
});

export type Wants = z.infer<typeof wantsRecord>;

/** The result's reason when a shared thing stays for someone else. */
export function sharedReason(platform: NodeJS.Platform = process.platform): string {
  return `still used by another account on this ${platform === 'darwin' ? 'Mac' : 'computer'}`;
}

/**
 * What an install from before this record existed had already set up: the
 * links its link record lists and a hosts block that is present, both asked
 * for by the first enrolled account (the one account such installs served).
 */
export interface WantsSeed {
  firstUid: number | undefined;
  hostsPresent: () => boolean;
  linked: () => readonly CliTool[];
}

/** The seed on this machine: the first enrolled account, the hosts file's block, the link record. */
export function wantsSeed(config: HelperConfig, firstUid: number | undefined, hostsPath: string = HOSTS_PATH): WantsSeed {
  return {
    firstUid,
    hostsPresent: () => {
      try {
        // Read only to see whether a block is there; every write goes through hosts/atomic-file.
        return blockLines(readFileSync(hostsPath), hostsPath) !== undefined;
      } catch {
        return false;
      }
    },
    linked: () => CLI_TOOLS.filter((name) => readLinkRecord(config)[name] !== undefined),
  };
}

function seeded(seed: WantsSeed): Wants {
  const first = seed.firstUid;
  if (first === undefined) return { version: 1, hosts: [], links: {} };
  const links: Wants['links'] = {};
  for (const name of seed.linked()) links[name] = [first];
  return { version: 1, hosts: seed.hostsPresent() ? [first] : [], links };
}

/**
 * The record, or the seed when there is none yet. An unreadable or invalid
 * record is treated as absent: it only ever came from root, and the seed
 * still protects what the first account set up.
 */
export function readWants(config: HelperConfig, seed: WantsSeed): Wants {
  try {
    const parsed = withTrustedDirectory(config.stateDir, (dir) => {
      const bytes = readFileAt(dir, WANTS_RECORD_NAME, 64 * 1024);
      return bytes === null ? undefined : wantsRecord.safeParse(JSON.parse(bytes.toString('utf8')));
    });
    if (parsed?.success) return parsed.data;
  } catch {
    // No state dir yet, or a record that is not JSON: as if there were none.
  }
  return seeded(seed);
}

export function writeWants(config: HelperConfig, wants: Wants): void {
  const checked = wantsRecord.parse(wants);
  const dir = openStateDir(config.stateDir);
  try {
    writeFileAtomically(dir, WANTS_RECORD_NAME, Buffer.from(JSON.stringify(checked)), { mode: 0o644 });
  } finally {
    dir.close();
  }
}

function withUid(list: readonly number[] | undefined, uid: number): number[] {
  return list?.includes(uid) ? [...list] : [...(list ?? []), uid];
}

function withoutUid(list: readonly number[] | undefined, uid: number): number[] {
  return (list ?? []).filter((u) => u !== uid);
}

/** `uid` asks for the hosts entries. */
export function wantHosts(wants: Wants, uid: number): Wants {
  return { ...wants, hosts: withUid(wants.hosts, uid) };
}

/** `uid` no longer wants the hosts entries; `others` still do. */
export function unwantHosts(wants: Wants, uid: number): { wants: Wants; others: number[] } {
  const others = withoutUid(wants.hosts, uid);
  return { wants: { ...wants, hosts: others }, others };
}

/** `uid` asks for these links. */
export function wantLinks(wants: Wants, uid: number, names: readonly CliTool[]): Wants {
  const links = { ...wants.links };
  for (const name of names) links[name] = withUid(links[name], uid);
  return { ...wants, links };
}

/** `uid` no longer wants these links; `shared` are the names someone else still wants. */
export function unwantLinks(wants: Wants, uid: number, names: readonly CliTool[]): { wants: Wants; shared: CliTool[] } {
  const links: Wants['links'] = {};
  const shared: CliTool[] = [];
  for (const name of CLI_TOOLS) {
    const list = wants.links[name];
    if (list === undefined) continue;
    const asked = names.includes(name);
    const rest = asked ? withoutUid(list, uid) : list;
    // A name nobody wants any more leaves the record.
    if (rest.length > 0) links[name] = rest;
    if (asked && rest.length > 0) shared.push(name);
  }
  return { wants: { ...wants, links }, shared };
}

/** Everything `uid` wanted, as it leaves: what it asked for, and which of those others still want. */
export function dropAccount(
  wants: Wants,
  uid: number,
): { wants: Wants; hosts: 'not-wanted' | 'shared' | 'last'; links: Array<{ name: CliTool; shared: boolean }> } {
  const hosts = !wants.hosts.includes(uid) ? 'not-wanted' : wants.hosts.length > 1 ? 'shared' : 'last';
  const names = CLI_TOOLS.filter((name) => wants.links[name]?.includes(uid));
  const afterHosts = unwantHosts(wants, uid).wants;
  const afterLinks = unwantLinks(afterHosts, uid, names);
  return { wants: afterLinks.wants, hosts, links: names.map((name) => ({ name, shared: afterLinks.shared.includes(name) })) };
}

/** Nothing changed: skip the write. */
export function sameWants(a: Wants, b: Wants): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Writers that raced us, retried before giving up. */
const MAX_ATTEMPTS = 5;

/**
 * Reads the record (seeded for an older install), applies `change` and
 * writes it back when it differs, without losing a concurrent change: the
 * helper's handlers run one at a time and never yield here, but root's
 * `berth-helper uninstall --uid` (another process) may write at the same
 * moment; the new record replaces the old only if the old is still the one
 * read, else it is read again and `change` reapplied (so it must be pure).
 */
export function updateWantsWith(config: HelperConfig, seed: WantsSeed, change: (wants: Wants) => Wants): Wants {
  for (let attempt = 1; ; attempt++) {
    let seen = null;
    try {
      seen = withTrustedDirectory(config.stateDir, (dir) => statAt(dir.fd, WANTS_RECORD_NAME));
    } catch {
      // No state dir yet: nothing to race with but its creation, which openStateDir does safely.
    }
    const before = readWants(config, seed);
    const after = change(before);
    if (sameWants(before, after)) return after;
    const content = Buffer.from(JSON.stringify(wantsRecord.parse(after)));
    const dir = openStateDir(config.stateDir);
    try {
      if (replaceIfUnchanged(dir, WANTS_RECORD_NAME, content, seen, { mode: 0o644 })) return after;
    } finally {
      dir.close();
    }
    if (attempt >= MAX_ATTEMPTS) throw new Error(`${config.stateDir}/${WANTS_RECORD_NAME} kept changing while it was being updated; try again`);
  }
}

/** updateWantsWith, seeded from the helper's current enrolment (its first account). */
export function updateWants(config: HelperConfig, enrolment: Enrolment, change: (wants: Wants) => Wants, hostsPath?: string): Wants {
  return updateWantsWith(config, wantsSeed(config, enrolment.uids()[0], hostsPath), change);
}
