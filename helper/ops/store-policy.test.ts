import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { POLICY_CACHE_NAME, generateKeyPair, readCachedPolicy, signPolicy, type PolicyPayload } from '../../common/policy';

import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import { fixedEnrolment } from '../daemon/enrolment';
import { safeScratchDir } from '../../test/support/scratch';
import { startHelper } from '../../test/support/processes';
import { HelperClient } from '../../main/helper-client';
import { refusal } from '../../test/support/refusal';
import type { OperationContext } from './types';
import { storePolicy } from './store-policy';

const users = inject('users');
const org = generateKeyPair();
const stranger = generateKeyPair();


let root: string;
let stateDir: string;
let cachePath: string;

beforeEach(() => {
  root = safeScratchDir('berth-store-policy');
  stateDir = join(root, 'state');
  cachePath = join(stateDir, POLICY_CACHE_NAME);
});

/** The context the daemon would pass; only config matters to this op. */
function context(overrides: Partial<HelperConfig> = {}): OperationContext {
  return {
    peer: { uid: users.test.uid, gid: users.test.gid, pid: process.pid },
    config: helperConfig.parse({ socketPath: '/run/berth-test/helper.sock', allowUids: [users.test.uid], orgPublicKey: org.publicKeyPem, stateDir, ...overrides }),
    enrolment: fixedEnrolment([users.test.uid]),
    progress: () => undefined,
    afterReply: () => undefined,
  };
}

const DAY = 24 * 3600 * 1000;
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function payload(overrides: Partial<PolicyPayload> = {}): PolicyPayload {
  return {
    organization: 'Acme Corp',
    version: 5,
    issued: iso(Date.now() - DAY),
    expires: iso(Date.now() + 365 * DAY),
    allowedRegistries: ['registry.acme.com/team', 'docker.io/library'],
    lockedSettings: { hostsEntries: true },
    ...overrides,
  };
}

const signed = (overrides: Partial<PolicyPayload> = {}, key = org.privateKeyPem): string => signPolicy(payload(overrides), key);

async function store(policy: string, ctx = context()) {
  return (await storePolicy({ policy }, ctx)).result;
}


/** Everything a refusal must leave alone: bytes, inode, mtime, mode, owner, and no stray temp files. */
function snapshot(): Record<string, unknown> {
  const st = lstatSync(cachePath);
  return {
    bytes: readFileSync(cachePath).toString('base64'),
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    mode: st.mode,
    uid: st.uid,
    entries: readdirSync(stateDir).sort(),
  };
}

describe('storePolicy', () => {
  it('stores the exact signed document, root-owned 0644 in a root-owned 0755 directory it creates', async () => {
    // One payload for both sides: two calls to payload() may straddle a second.
    const contents = payload();
    const document = signPolicy(contents, org.privateKeyPem);
    expect(existsSync(stateDir)).toBe(false);
    expect(await store(document)).toEqual({ organization: 'Acme Corp', version: 5, expires: contents.expires });
    expect(readFileSync(cachePath, 'utf8')).toBe(document);
    const file = lstatSync(cachePath);
    expect(file.isFile()).toBe(true);
    expect([file.uid, file.gid, file.mode & 0o7777]).toEqual([0, 0, 0o644]);
    const dir = lstatSync(stateDir);
    expect(dir.isDirectory()).toBe(true);
    expect([dir.uid, dir.mode & 0o7777]).toEqual([0, 0o755]);
    expect(readdirSync(stateDir)).toEqual([POLICY_CACHE_NAME]);
    // What the app reads, as anyone, re-verified with the org key.
    expect(readCachedPolicy(stateDir, org.publicKeyPem)).toMatchObject({ state: 'valid', expired: false, policy: { version: 5, document } });
  });

  it('replaces the cache atomically with a newer version', async () => {
    await store(signed());
    const before = lstatSync(cachePath).ino;
    const newer = signed({ version: 6, allowedRegistries: [] });
    expect(await store(newer)).toMatchObject({ version: 6 });
    expect(readFileSync(cachePath, 'utf8')).toBe(newer);
    expect(lstatSync(cachePath).ino).not.toBe(before);
    expect(readdirSync(stateDir)).toEqual([POLICY_CACHE_NAME]);
  });

  it('accepts a policy issued in the future (clock skew); only expiry and version are judged by time and order', async () => {
    const future = signed({ issued: iso(Date.now() + 30 * DAY), expires: iso(Date.now() + 60 * DAY) });
    expect(await store(future)).toMatchObject({ version: 5 });
  });

  describe('refusals leave the cache byte-identical, same inode and mtime', () => {
    let document: string;
    beforeEach(async () => {
      document = signed();
      await store(document);
    });

    function forged(): string {
      const doc = JSON.parse(document) as Record<string, string>;
      doc.payload = Buffer.from(JSON.stringify(payload({ version: 9, allowedRegistries: ['evil.example.com'] }))).toString('base64');
      return JSON.stringify(doc);
    }

    function disguised(): string {
      // Signed by another key, but claiming the org key's id.
      const doc = JSON.parse(signed({ version: 9 }, stranger.privateKeyPem)) as Record<string, string>;
      doc.keyId = org.keyId;
      return JSON.stringify(doc);
    }

    it.each<[string, () => string, string, RegExp]>([
      ['forged (payload changed after signing)', forged, 'POLICY_INVALID', /signature/],
      ['signed by the wrong key', () => signed({ version: 9 }, stranger.privateKeyPem), 'POLICY_INVALID', /signed with key [0-9a-f]{16}/],
      ['signed by the wrong key under the org key id', disguised, 'POLICY_INVALID', /signature/],
      ['truncated', () => signed({ version: 9 }).slice(0, 150), 'POLICY_INVALID', /not valid JSON/],
      ['malformed JSON', () => '{"format": "berth-policy/1",}', 'POLICY_INVALID', /not valid JSON/],
      ['not a policy', () => '{"hello":"world"}', 'POLICY_INVALID', /not a Berth policy/],
      ['another format', () => JSON.stringify({ ...(JSON.parse(signed({ version: 9 })) as object), format: 'berth-policy/9' }), 'POLICY_INVALID', /unsupported policy format/],
      ['replayed (same version)', () => document, 'POLICY_STALE', /version 5 is not newer than the cached version 5/],
      ['older', () => signed({ version: 4 }), 'POLICY_STALE', /version 4 is not newer than the cached version 5/],
      ['expired', () => signed({ version: 9, issued: iso(Date.now() - 30 * DAY), expires: iso(Date.now() - DAY) }), 'POLICY_EXPIRED', /expired on/],
    ])('%s → %s', async (_name, make, code, message) => {
      const before = snapshot();
      const error = await refusal(() => store(make()));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(snapshot()).toEqual(before);
    });

    it('NOT_CONFIGURED without an org key recorded at install', async () => {
      const before = snapshot();
      const error = await refusal(() => store(signed({ version: 9 }), context({ orgPublicKey: undefined })));
      expect(error.code).toBe('NOT_CONFIGURED');
      expect(error.message).toBe('no organization key was recorded at install, so no policy can be accepted');
      expect(snapshot()).toEqual(before);
    });

    it('fast-check: any flipped byte in keyId, payload or signature, or any truncation, is POLICY_INVALID', async () => {
      const candidate = signed({ version: 6 });
      const before = snapshot();
      const bytes = Buffer.from(candidate);
      const span = (field: string): [number, number] => {
        const start = candidate.indexOf(`"${field}":"`) + field.length + 4;
        return [start, candidate.indexOf('"', start)];
      };
      const spans = ['keyId', 'payload', 'signature'].map(span);
      const flip = fc
        .tuple(fc.constantFrom(...spans), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }))
        .map(([[start, end], where, xor]) => {
          const mutated = Buffer.from(bytes);
          const at = start + Math.floor(where * (end - start));
          mutated[at] = mutated[at]! ^ xor;
          return mutated.toString('utf8');
        });
      const truncation = fc.nat({ max: candidate.length - 1 }).map((cut) => candidate.slice(0, cut));
      await fc.assert(
        fc.asyncProperty(fc.oneof(flip, truncation), async (mutated) => {
          const error = await refusal(() => store(mutated));
          expect(error.code).toBe('POLICY_INVALID');
        }),
        { numRuns: 300 },
      );
      expect(snapshot()).toEqual(before);
      // And the unmutated document is still accepted afterwards.
      expect(await store(candidate)).toMatchObject({ version: 6 });
    });
  });

  describe('a cache it did not write is treated as absent, not trusted', () => {
    it('one signed by a previous org key (key rotation) does not block version 1', async () => {
      mkdirSync(stateDir, { mode: 0o755 });
      writeFileSync(cachePath, signed({ version: 100 }, stranger.privateKeyPem), { mode: 0o644 });
      expect(await store(signed({ version: 1 }))).toMatchObject({ version: 1 });
      expect(readCachedPolicy(stateDir, org.publicKeyPem)).toMatchObject({ state: 'valid', policy: { version: 1 } });
    });

    it('one not owned by root does not count, and is replaced by a root-owned file', async () => {
      mkdirSync(stateDir, { mode: 0o755 });
      writeFileSync(cachePath, signed({ version: 100 }), { mode: 0o644 });
      chownSync(cachePath, users.test.uid, users.test.gid);
      expect(await store(signed({ version: 2 }))).toMatchObject({ version: 2 });
      expect(statSync(cachePath).uid).toBe(0);
    });

    it('garbage or a symlink at the cache name is replaced, never followed', async () => {
      mkdirSync(stateDir, { mode: 0o755 });
      const target = join(root, 'elsewhere.json');
      writeFileSync(target, 'untouched', { mode: 0o644 });
      symlinkSync(target, cachePath);
      expect(await store(signed({ version: 1 }))).toMatchObject({ version: 1 });
      expect(lstatSync(cachePath).isFile()).toBe(true);
      expect(readFileSync(target, 'utf8')).toBe('untouched');
      writeFileSync(cachePath, 'garbage', { mode: 0o644 });
      expect(await store(signed({ version: 1 }))).toMatchObject({ version: 1 });
    });
  });

  describe('UNSAFE_PATH: the state directory must be root’s alone', () => {
    it('refuses a state directory under a world-writable one, creating nothing', async () => {
      const loose = mkdtempSync(join(tmpdir(), 'berth-policy-'));
      try {
        const error = await refusal(() => store(signed(), context({ stateDir: join(loose, 'state') })));
        expect(error.code).toBe('UNSAFE_PATH');
        expect(readdirSync(loose)).toEqual([]);
      } finally {
        rmSync(loose, { recursive: true, force: true });
      }
    });

    it('refuses a symlinked state directory, a group-writable one, and one owned by a user', async () => {
      const real = join(root, 'real');
      mkdirSync(real, { mode: 0o755 });
      symlinkSync(real, stateDir);
      expect((await refusal(() => store(signed()))).code).toBe('UNSAFE_PATH');
      expect(readdirSync(real)).toEqual([]);
      rmSync(stateDir);
      mkdirSync(stateDir, { mode: 0o755 });
      chmodSync(stateDir, 0o775);
      expect((await refusal(() => store(signed()))).message).toMatch(/writable by its group/);
      chmodSync(stateDir, 0o755);
      chownSync(stateDir, users.test.uid, users.test.gid);
      expect((await refusal(() => store(signed()))).message).toMatch(new RegExp(`owned by uid ${users.test.uid}`));
      expect(readdirSync(stateDir)).toEqual([]);
    });

    it('makes an existing root-only 0700 state directory readable by all, so the app can read the policy', async () => {
      mkdirSync(stateDir, { mode: 0o700 });
      chmodSync(stateDir, 0o700);
      await store(signed());
      expect(statSync(stateDir).mode & 0o7777).toBe(0o755);
    });
  });

  it('an unprivileged user can read the cache but not write, rename or delete it', async () => {
    const document = signed();
    await store(document);
    const before = snapshot();
    const script = `
      const fs = require('fs');
      const [file, dir] = process.argv.slice(1);
      const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
      let content = '';
      console.log(JSON.stringify({
        read: attempt(() => { content = fs.readFileSync(file, 'utf8'); }),
        write: attempt(() => fs.writeFileSync(file, 'x')),
        append: attempt(() => fs.appendFileSync(file, 'x')),
        rename: attempt(() => fs.renameSync(file, dir + '/moved.json')),
        unlink: attempt(() => fs.unlinkSync(file)),
        create: attempt(() => fs.writeFileSync(dir + '/policy.json.new', 'x')),
        chmod: attempt(() => fs.chmodSync(file, 0o666)),
        content,
      }));`;
    const run = spawnSync(
      'setpriv',
      [`--reuid=${users.test.uid}`, `--regid=${users.test.gid}`, '--clear-groups', '--', process.execPath, '-e', script, cachePath, stateDir],
      { encoding: 'utf8', cwd: '/' },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, string>;
    expect(result).toEqual({
      read: 'ok',
      write: 'EACCES',
      append: 'EACCES',
      rename: 'EACCES',
      unlink: 'EACCES',
      create: 'EACCES',
      chmod: 'EPERM',
      content: document,
    });
    expect(snapshot()).toEqual(before);
  });
});

describe('a full disk under the state directory, through the real helper', () => {
  it('answers NO_SPACE with a sentence (not an internal error), keeps the cached policy, and keeps serving', async () => {
    const root = safeScratchDir('berth-full-state');
    const stateDir = join(root, 'state');
    mkdirSync(stateDir, { mode: 0o755 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'berth-full-state', stateDir]);
    const keyFile = join(root, 'org.pub.pem');
    writeFileSync(keyFile, org.publicKeyPem);
    const helper = await startHelper({ allowUid: users.test.uid, extraArgs: ['--state-dir', stateDir, '--org-key', keyFile] });
    try {
      const client = await HelperClient.connect(helper.socketPath);
      await client.request('storePolicy', { policy: signed({ version: 1 }) });
      const cached = readFileSync(join(stateDir, POLICY_CACHE_NAME), 'utf8');
      execFileSync('sh', ['-c', 'cat /dev/zero > "$1" 2>/dev/null || true', 'sh', join(stateDir, 'filler')]);
      const error = await client.request('storePolicy', { policy: signed({ version: 2 }) }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'NO_SPACE', message: expect.stringContaining('is full') });
      expect((error as Error).message).toContain('free some space and try again');
      expect(readFileSync(join(stateDir, POLICY_CACHE_NAME), 'utf8')).toBe(cached);
      expect(readdirSync(stateDir).sort()).toEqual(['filler', POLICY_CACHE_NAME].sort());
      client.close();
      const again = await HelperClient.connect(helper.socketPath);
      again.close();
    } finally {
      await helper.stop();
      execFileSync('umount', [stateDir]);
    }
  });
});
