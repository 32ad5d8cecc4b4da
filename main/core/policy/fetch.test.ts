import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { MAX_POLICY_BYTES } from '../../../common/protocol/messages';
import { generateKeyPair, signPolicy } from '../../../common/policy';
import { HelperClient } from '../../helper-client';
import { runFixtureAs, startHelper, type HelperProcess } from '../../../test/support/processes';
import { readAppPolicy } from './app-policy';
import { PolicyFetchError, displayUrl, fetchPolicy, policyUrlFromConfig, refreshPolicy, type PolicyFetchErrorKind } from './fetch';
import { policyMachine, policyPayload, type PolicyMachine } from './test-setup';

const users = inject('users');
const stranger = generateKeyPair();

/**
 * The admin's policy server, on loopback. Each route is one way a server can
 * answer; `served` is what /policy.json returns right now.
 */
let server: Server;
let base: string;
let served = '';
const hits: string[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  hits.push(path);
  const { port } = server.address() as AddressInfo;
  switch (path.split('?')[0]) {
    case '/policy.json':
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
      return;
    case '/moved':
      res.writeHead(301, { location: '/policy.json' }).end();
      return;
    case '/moved-twice':
      res.writeHead(302, { location: `http://127.0.0.1:${port}/moved` }).end();
      return;
    case '/to-another-host':
      // localhost is loopback too, but not the host the admin named.
      res.writeHead(302, { location: `http://localhost:${port}/policy.json` }).end();
      return;
    case '/to-another-port':
      res.writeHead(302, { location: `http://127.0.0.1:1/policy.json` }).end();
      return;
    case '/to-https':
      res.writeHead(302, { location: `https://127.0.0.1:${port}/policy.json` }).end();
      return;
    case '/loop':
      res.writeHead(307, { location: '/loop' }).end();
      return;
    case '/missing':
      res.writeHead(404, 'Not Found').end('no such policy');
      return;
    case '/broken':
      res.writeHead(500, 'Internal Server Error').end();
      return;
    case '/huge-declared':
      res.writeHead(200, { 'content-length': String(MAX_POLICY_BYTES + 1) });
      res.write('{');
      // Never finishes: the declared length alone must be enough to refuse.
      return;
    case '/huge-streamed': {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.once('close', () => res.removeAllListeners('drain'));
      pump();
      return;
    }
    case '/gzip':
      res.writeHead(200, { 'content-encoding': 'gzip' }).end('x');
      return;
    case '/not-utf8':
      res.writeHead(200).end(Buffer.from([0x7b, 0xff, 0x7d]));
      return;
    case '/not-a-policy':
      res.writeHead(200).end('{"hello":"world"}');
      return;
    case '/html':
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>captive portal</html>');
      return;
    case '/silent':
      // Headers never come: only the deadline ends this.
      return;
    case '/truncated':
      res.writeHead(200, { 'content-length': '1000' });
      res.end('{"format":');
      res.socket?.destroy();
      return;
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function fetchError(url: string, options = { timeoutMs: 5_000 }): Promise<PolicyFetchError> {
  try {
    await fetchPolicy(url, options);
  } catch (error) {
    if (error instanceof PolicyFetchError) return error;
    throw error;
  }
  throw new Error(`expected ${url} to fail`);
}

describe('fetchPolicy', () => {
  it('returns the body of a 200, and follows a redirect on the same host', async () => {
    served = 'the document';
    expect(await fetchPolicy(`${base}/policy.json`, { timeoutMs: 5_000 })).toBe('the document');
    hits.length = 0;
    expect(await fetchPolicy(`${base}/moved-twice`, { timeoutMs: 5_000 })).toBe('the document');
    expect(hits).toEqual(['/moved-twice', '/moved', '/policy.json']);
  });

  it.each<[string, PolicyFetchErrorKind, RegExp]>([
    ['/missing', 'http', /: the server answered HTTP 404 Not Found$/],
    ['/broken', 'http', /: the server answered HTTP 500 Internal Server Error$/],
    ['/to-another-host', 'redirect', /the server redirected to http:\/\/localhost:\d+\/policy\.json; only redirects on http:\/\/127\.0\.0\.1:\d+ are followed$/],
    ['/to-another-port', 'redirect', /the server redirected to http:\/\/127\.0\.0\.1:1\/policy\.json; only redirects on/],
    ['/to-https', 'redirect', /the server redirected to https:\/\/127\.0\.0\.1:\d+\/policy\.json; only redirects on/],
    ['/loop', 'redirect', /: more than 3 redirects$/],
    ['/huge-declared', 'too-large', new RegExp(`: the policy is larger than ${MAX_POLICY_BYTES} bytes$`)],
    ['/huge-streamed', 'too-large', new RegExp(`: the policy is larger than ${MAX_POLICY_BYTES} bytes$`)],
    ['/gzip', 'http', /: the server sent the policy gzip-encoded; serve it uncompressed$/],
    ['/not-utf8', 'invalid', /: the answer is not UTF-8 text/],
    ['/truncated', 'network', /the connection closed before the whole policy arrived|ECONNRESET/],
  ])('%s → %s, with a clear message naming the URL', async (path, kind, message) => {
    const error = await fetchError(`${base}${path}`);
    expect(error.kind).toBe(kind);
    expect(error.message).toMatch(/^fetching the policy from http:\/\/127\.0\.0\.1:\d+\//);
    expect(error.message).toMatch(message);
  });

  it('gives up at the deadline when the server never answers', async () => {
    const error = await fetchError(`${base}/silent`, { timeoutMs: 300 });
    expect(error.kind).toBe('timeout');
    expect(error.message).toMatch(/^fetching the policy from http:\/\/127\.0\.0\.1:\d+\/silent: no complete answer within 300 ms$/);
  });

  it('says so when nothing listens', async () => {
    const error = await fetchError('http://127.0.0.1:1/policy.json');
    expect(error.kind).toBe('network');
    expect(error.message).toBe('fetching the policy from http://127.0.0.1:1/policy.json: ECONNREFUSED');
  });

  it.each<[string, RegExp]>([
    ['http://example.com/policy.json', /plain http is allowed only to this machine/],
    ['https://admin:secret@example.com/policy.json', /must not contain a user name or password/],
    ['ftp://example.com/policy.json', /must use https \(not ftp:\)/],
    ['/policy.json', /must be an absolute URL/],
  ])('refuses the URL %s before any request', async (url, message) => {
    hits.length = 0;
    const error = await fetchError(url);
    expect(error.kind).toBe('url');
    expect(error.message).toMatch(message);
    expect(hits).toEqual([]);
  });

  it('keeps a query (it may be a signed-URL token) out of messages', async () => {
    const error = await fetchError(`${base}/missing?token=s3cr3t`);
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).toMatch(/\/missing\?…: the server answered HTTP 404/);
    expect(displayUrl('https://example.com/p.json?sig=abc')).toBe('https://example.com/p.json?…');
  });
});

describe('refreshPolicy: fetched, verified, stored by the real helper', () => {
  let machine: PolicyMachine;
  let helper: HelperProcess;
  let client: HelperClient;

  beforeEach(async () => {
    machine = policyMachine('berth-policy-fetch', users.test.uid);
    const keyFile = join(machine.root, 'org-key.pub.pem');
    writeFileSync(keyFile, machine.keys.publicKeyPem, { mode: 0o644 });
    helper = await startHelper({ allowUid: users.test.uid, extraArgs: ['--org-key', keyFile, '--state-dir', machine.stateDir] });
    // The installed config the app reads: the same org key and state directory as the running helper.
    machine.writeConfig({ socketPath: helper.socketPath, policyUrl: `${base}/policy.json` });
    client = await HelperClient.connect(helper.socketPath);
  });
  afterEach(async () => {
    client.close();
    await helper.stop();
  });

  const sign = (overrides: Parameters<typeof policyPayload>[0] = {}, key = machine.keys.privateKeyPem): string =>
    signPolicy(policyPayload(overrides), key);
  const refresh = (path = '/policy.json', configPath = machine.configPath) =>
    refreshPolicy({ url: `${base}${path}`, helper: client, configPath, stateDir: machine.stateDir, timeoutMs: 5_000 });
  const storeOps = (): number => helper.auditEntries().filter((e) => e.op === 'storePolicy').length;

  /** Everything a failed refresh must leave alone. */
  function cacheSnapshot(): Record<string, unknown> {
    const st = lstatSync(machine.cachePath);
    return { bytes: readFileSync(machine.cachePath, 'utf8'), ino: st.ino, mtimeMs: st.mtimeMs, entries: readdirSync(machine.stateDir).sort() };
  }

  async function refusal(path = '/policy.json', configPath = machine.configPath): Promise<PolicyFetchError> {
    try {
      await refresh(path, configPath);
    } catch (error) {
      if (error instanceof PolicyFetchError) return error;
      throw error;
    }
    throw new Error('expected the refresh to fail');
  }

  it('as the unprivileged user: the URL from the config is fetched, the helper stores it, and the app reads it', async () => {
    const payload = policyPayload({ version: 4 });
    served = signPolicy(payload, machine.keys.privateKeyPem);
    expect(policyUrlFromConfig(machine.configPath)).toBe(`${base}/policy.json`);
    const outcome = await runFixtureAs(users.test, 'policy-settings', ['refresh', policyUrlFromConfig(machine.configPath)!, helper.socketPath, machine.configPath]);
    expect(outcome).toEqual({
      ok: true,
      uid: users.test.uid,
      result: { status: 'stored', organization: 'Example Corp', version: 4, expires: payload.expires },
    });
    // Root stored exactly the document served, root-owned 0644.
    expect(readFileSync(machine.cachePath, 'utf8')).toBe(served);
    const st = lstatSync(machine.cachePath);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o644]);
    expect(helper.auditEntries().filter((e) => e.op === 'storePolicy')).toEqual([
      expect.objectContaining({ peer: expect.objectContaining({ uid: users.test.uid }), result: 'ok' }),
    ]);
    const seen = await runFixtureAs(users.test, 'policy-settings', ['read', machine.configPath]);
    expect(seen).toMatchObject({ policy: { state: 'valid', organization: 'Example Corp', version: 4, lockedSettings: payload.lockedSettings } });
  });

  it('a newer version replaces the one in force; the same one again is "unchanged" and asks nothing of the helper', async () => {
    served = sign({ version: 4 });
    expect(await refresh()).toMatchObject({ status: 'stored', version: 4 });
    served = sign({ version: 5, allowedRegistries: [] });
    expect(await refresh('/moved')).toMatchObject({ status: 'stored', version: 5 });
    expect(readAppPolicy({ configPath: machine.configPath })).toMatchObject({ version: 5, allowedRegistries: [] });
    const before = storeOps();
    // Served again with other spacing: the same signed payload, so the same policy.
    served = `${JSON.stringify(JSON.parse(served), null, 2)}\n`;
    expect(await refresh()).toMatchObject({ status: 'unchanged', version: 5 });
    expect(storeOps()).toBe(before);
  });

  describe('each failure is a clear error, and the cache is unchanged', () => {
    beforeEach(async () => {
      served = sign({ version: 5 });
      await refresh();
    });

    it.each<[string, () => string, string, PolicyFetchErrorKind, RegExp]>([
      ['a 404', () => served, '/missing', 'http', /HTTP 404 Not Found/],
      ['an oversized answer', () => served, '/huge-streamed', 'too-large', /larger than 60000 bytes/],
      ['not a policy', () => served, '/not-a-policy', 'invalid', /is refused: not a Berth policy document/],
      ['an HTML page (a captive portal)', () => served, '/html', 'invalid', /is refused: the policy is not valid JSON/],
      ['signed by the wrong key', () => sign({ version: 9 }, stranger.privateKeyPem), '/policy.json', 'invalid', /signed with key [0-9a-f]{16}, but the organization key here is/],
      ['expired', () => sign({ version: 9, issued: '2020-01-01T00:00:00Z', expires: '2020-02-01T00:00:00Z' }), '/policy.json', 'expired', /expired on 1 Feb 2020/],
      ['an older version (a rollback)', () => sign({ version: 4 }), '/policy.json', 'stale', /is version 4, older than version 5 in force; refused \(a rollback\)$/],
      ['the same version, changed', () => sign({ version: 5, allowedRegistries: ['evil.example.net'] }), '/policy.json', 'stale', /differs from the one in force but has the same version 5; raise "version"/],
    ])('%s', async (_what, make, path, kind, message) => {
      served = make();
      const before = cacheSnapshot();
      const ops = storeOps();
      const error = await refusal(path);
      expect(error.kind).toBe(kind);
      expect(error.message).toMatch(message);
      expect(cacheSnapshot()).toEqual(before);
      // Refused here, before root was asked: no storePolicy in the helper's audit log.
      expect(storeOps()).toBe(ops);
      expect(readAppPolicy({ configPath: machine.configPath })).toMatchObject({ state: 'valid', version: 5 });
    });

    it.each<[string, () => string, string, RegExp]>([
      ['an older version', () => sign({ version: 4 }), 'POLICY_STALE', /policy version 4 is not newer than the cached version 5/],
      ['the wrong key', () => sign({ version: 9 }, stranger.privateKeyPem), 'POLICY_INVALID', /signed with key/],
    ])('without the org key here, the helper’s own refusal of %s is reported', async (_what, make, code, message) => {
      served = make();
      const before = cacheSnapshot();
      const ops = storeOps();
      const error = await refusal('/policy.json', join(machine.root, 'etc/absent.json'));
      expect(error.kind).toBe(code === 'POLICY_STALE' ? 'stale' : 'invalid');
      expect(error.message).toMatch(/^the helper refused the policy from http:\/\/127\.0\.0\.1:\d+\/policy\.json: /);
      expect(error.message).toMatch(message);
      expect(cacheSnapshot()).toEqual(before);
      // Asked once, and the helper's audit log records its refusal.
      expect(storeOps()).toBe(ops + 1);
      expect(helper.auditEntries().filter((e) => e.op === 'storePolicy').at(-1)).toMatchObject({ result: code });
    });

    it('a config without an org key: nothing can be accepted, said before asking the helper', async () => {
      machine.writeConfig({ orgPublicKey: undefined });
      served = sign({ version: 9 });
      const before = cacheSnapshot();
      const error = await refusal();
      expect(error.kind).toBe('not-configured');
      expect(error.message).toMatch(/cannot be accepted: no organization key was recorded at install$/);
      expect(cacheSnapshot()).toEqual(before);
    });
  });
});

describe('policyUrlFromConfig', () => {
  it('null without a helper config or without a URL; the URL when the admin set one; an error for a config it cannot trust', () => {
    const machine = policyMachine('berth-policy-url', users.test.uid);
    expect(policyUrlFromConfig(machine.configPath)).toBeNull();
    machine.writeConfig();
    expect(policyUrlFromConfig(machine.configPath)).toBeNull();
    machine.writeConfig({ policyUrl: 'https://mdm.example.com/berth/policy.json' });
    expect(policyUrlFromConfig(machine.configPath)).toBe('https://mdm.example.com/berth/policy.json');
    machine.writeConfig({ policyUrl: 'https://u:p@mdm.example.com/x' });
    expect(() => policyUrlFromConfig(machine.configPath)).toThrow(/the policy URL cannot be read: .*must not contain a user name or password/);
  });
});
