import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLICY_CACHE_NAME, generateKeyPair, signPolicy, type OrgKeyPair, type PolicyPayload } from '../../../common/policy';
import { safeScratchDir } from '../../../test/support/scratch';

/**
 * A managed machine in a scratch directory, for the app-side policy tests:
 * the helper's root-owned config (org key, state dir) and the root-owned
 * policy cache, laid out as the installer and storePolicy make them. The
 * tests run as root, so what they write is root's, as on a real machine.
 */
export interface PolicyMachine {
  root: string;
  configPath: string;
  stateDir: string;
  cachePath: string;
  socketPath: string;
  keys: OrgKeyPair;
  /** Writes the config (0644); `undefined` values drop a field. */
  writeConfig(overrides?: Record<string, unknown>): void;
  /** Signs a payload (the defaults below, overridden) and stores it as the cache, 0644. */
  writeCache(overrides?: Partial<PolicyPayload>, privateKeyPem?: string): string;
}

const DAY = 24 * 3600 * 1000;
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export function policyPayload(overrides: Partial<PolicyPayload> = {}): PolicyPayload {
  return {
    organization: 'Example Corp',
    version: 3,
    issued: iso(Date.now() - DAY),
    expires: iso(Date.now() + 365 * DAY),
    allowedRegistries: ['registry.example.com/team', 'docker.io/library', 'mirror.example.com:5000'],
    lockedSettings: { cliToolsLocation: 'user', hostsEntries: true },
    ...overrides,
  };
}

export function policyMachine(prefix: string, allowUid: number): PolicyMachine {
  const root = safeScratchDir(prefix);
  const etc = join(root, 'etc');
  const stateDir = join(root, 'state');
  mkdirSync(etc, { mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o755 });
  mkdirSync(join(root, 'run'), { mode: 0o755 });
  const keys = generateKeyPair();
  const machine: PolicyMachine = {
    root,
    configPath: join(etc, 'helper.json'),
    stateDir,
    cachePath: join(stateDir, POLICY_CACHE_NAME),
    socketPath: join(root, 'run/helper.sock'),
    keys,
    writeConfig(overrides = {}) {
      const config = { socketPath: machine.socketPath, allowUid, orgPublicKey: keys.publicKeyPem, stateDir, ...overrides };
      writeFileSync(machine.configPath, JSON.stringify(config), { mode: 0o644 });
    },
    writeCache(overrides = {}, privateKeyPem = keys.privateKeyPem) {
      const document = signPolicy(policyPayload(overrides), privateKeyPem);
      writeFileSync(machine.cachePath, document, { mode: 0o644 });
      return document;
    },
  };
  return machine;
}
