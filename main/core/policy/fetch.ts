import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BERTH_VERSION } from '../../../common/app-version';
import { PolicyError, verifyPolicy } from '../../../common/policy';
import { MAX_POLICY_BYTES } from '../../../common/protocol/messages';
import type { ErrorCode } from '../../../common/protocol/errors';
import { policyUrlProblem } from '../../../common/helper-config/schema';
import { HelperRequestError, type HelperClient } from '../../helper-client';
import { policyEnforced, readHelperConfig, readPolicyState } from './app-policy';

/**
 * Policy fetching: the backend, as the user, downloads the admin's signed
 * policy from the URL recorded at install and hands it to the helper's
 * storePolicy, which is the one authority on what is accepted. Root never
 * touches the network; the signature, not the transport, makes a policy
 * trustworthy, so the rules here are about not being fooled into wasted or
 * misleading work: bounded size and time, no redirect off the admin's host.
 */

export type PolicyFetchErrorKind =
  | 'url' // the URL itself is not acceptable
  | 'network' // could not connect, reset, TLS failure
  | 'timeout'
  | 'http' // a status other than 200, or an unusable body encoding
  | 'redirect' // to another scheme or host, or too many
  | 'too-large'
  | 'not-configured' // no org key recorded at install
  | 'invalid' // not a Berth policy, or not signed by the org key
  | 'expired'
  | 'stale' // not newer than the policy in force (replay or rollback)
  | 'helper'; // the helper could not be asked, or refused for another reason

/** Why a fetch or refresh failed; `message` is one sentence naming the URL (without its query). */
export class PolicyFetchError extends Error {
  constructor(
    readonly kind: PolicyFetchErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PolicyFetchError';
  }
}

export interface FetchPolicyOptions {
  /** The whole exchange (connect, headers, body) must finish within this. */
  timeoutMs: number;
  /** Largest body accepted; the helper accepts no larger document anyway. */
  maxBytes?: number;
  /** Same-origin redirects followed (a moved file on the admin's server). */
  maxRedirects?: number;
}

const DEFAULT_MAX_REDIRECTS = 3;

/** The URL as messages show it: no query, which may carry a signed-URL token. */
export function displayUrl(url: string | URL): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    return `${parsed.origin}${parsed.pathname}${parsed.search === '' ? '' : '?…'}`;
  } catch {
    return '(an invalid URL)';
  }
}

interface Answer {
  status: number;
  statusText: string;
  location: string | undefined;
  body: Buffer | undefined;
}

/** One GET, no redirects followed; the body is read only for a 200. */
function get(url: URL, maxBytes: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'GET',
      signal,
      // Identity encoding: Node's client does not inflate, and a compressed body would only defeat the size cap.
      headers: { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': `Berth/${BERTH_VERSION}` },
    });
    // `on`, not `once`: a destroyed request may emit more than one error, and an unheard one would crash the app.
    req.on('error', reject);
    req.once('response', (res: IncomingMessage) => {
      res.on('error', reject);
      const status = res.statusCode ?? 0;
      const base = { status, statusText: res.statusMessage ?? '', location: res.headers.location };
      if (status !== 200) {
        res.resume();
        resolve({ ...base, body: undefined });
        return;
      }
      const encoding = res.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity') {
        req.destroy();
        reject(new PolicyFetchError('http', `the server sent the policy ${encoding.slice(0, 20)}-encoded; serve it uncompressed`));
        return;
      }
      const tooLarge = (): PolicyFetchError => new PolicyFetchError('too-large', `the policy is larger than ${maxBytes} bytes`);
      // Refused before reading a byte when the server says so up front.
      if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
        req.destroy();
        reject(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // Counted while streaming: a server that lies about (or omits) the length cannot make us buffer more.
        if (size > maxBytes) {
          req.destroy();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      const cut = (): PolicyFetchError => new PolicyFetchError('network', 'the connection closed before the whole policy arrived');
      res.once('end', () => (res.complete ? resolve({ ...base, body: Buffer.concat(chunks) }) : reject(cut())));
      // Closed mid-body (a dropped connection, a server that lied about the length): never a partial document.
      res.once('close', () => {
        if (!res.complete) reject(cut());
      });
    });
    req.end();
  });
}

/**
 * Downloads the policy document at `url` (http or https, as policyUrlProblem
 * allows). Follows a redirect only to the same scheme, host and port: the
 * admin chose that server, and a redirect elsewhere (or from https down to
 * http) is refused rather than trusted. Returns the body as text; whether it
 * is a valid policy is for the verifier to say.
 */
export async function fetchPolicy(url: string, options: FetchPolicyOptions): Promise<string> {
  const problem = policyUrlProblem(url);
  if (problem !== undefined) throw new PolicyFetchError('url', `the policy URL ${problem}`);
  const maxBytes = options.maxBytes ?? MAX_POLICY_BYTES;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const origin = new URL(url);
  let current = origin;
  const signal = AbortSignal.timeout(options.timeoutMs);
  const fail = (error: unknown): never => {
    const where = `fetching the policy from ${displayUrl(current)}`;
    if (error instanceof PolicyFetchError) throw new PolicyFetchError(error.kind, `${where}: ${error.message}`);
    if (signal.aborted) throw new PolicyFetchError('timeout', `${where}: no complete answer within ${options.timeoutMs} ms`);
    const code = (error as { code?: string }).code;
    throw new PolicyFetchError('network', `${where}: ${code ?? (error as Error).message}`);
  };
  for (let redirects = 0; ; redirects++) {
    let answer: Answer;
    try {
      answer = await get(current, maxBytes, signal);
    } catch (error) {
      return fail(error);
    }
    if (answer.status === 200) {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(answer.body);
      } catch {
        return fail(new PolicyFetchError('invalid', 'the answer is not UTF-8 text, so it is not a Berth policy'));
      }
    }
    if (answer.status >= 300 && answer.status < 400 && answer.location !== undefined) {
      if (redirects >= maxRedirects) return fail(new PolicyFetchError('redirect', `more than ${maxRedirects} redirects`));
      let next: URL;
      try {
        next = new URL(answer.location, current);
      } catch {
        return fail(new PolicyFetchError('redirect', 'the server redirected to an invalid URL'));
      }
      if (next.protocol !== origin.protocol || next.host !== origin.host) {
        return fail(new PolicyFetchError('redirect', `the server redirected to ${displayUrl(next)}; only redirects on ${origin.origin} are followed`));
      }
      const nextProblem = policyUrlProblem(next.href);
      if (nextProblem !== undefined) return fail(new PolicyFetchError('redirect', `the server redirected to a URL that ${nextProblem}`));
      current = next;
      continue;
    }
    const text = answer.statusText === '' ? '' : ` ${answer.statusText.slice(0, 60)}`;
    return fail(new PolicyFetchError('http', `the server answered HTTP ${answer.status}${text}`));
  }
}

/** The admin-set policy URL from the helper's root-owned config; null when none is set or no helper is installed. */
export function policyUrlFromConfig(configPath?: string): string | null {
  const read = readHelperConfig(configPath);
  if (read.state === 'absent') return null;
  if (read.state === 'unusable') throw new PolicyFetchError('url', `the policy URL cannot be read: ${read.reason}`);
  return read.config.policyUrl ?? null;
}

export interface RefreshPolicyOptions {
  url: string;
  /** A connected helper client (only storePolicy is asked). */
  helper: Pick<HelperClient, 'request'>;
  /** The helper's config (for the org key) and the cache's directory, as readAppPolicy takes them. */
  configPath?: string;
  stateDir?: string;
  timeoutMs?: number;
  now?: Date;
}

export interface RefreshResult {
  /** `stored`: the helper accepted a newer policy; `unchanged`: the server offers the one already in force. */
  status: 'stored' | 'unchanged';
  organization: string;
  version: number;
  expires: string;
}

const DEFAULT_REFRESH_TIMEOUT_MS = 15_000;

const HELPER_KINDS: Partial<Record<ErrorCode, PolicyFetchErrorKind>> = {
  POLICY_INVALID: 'invalid',
  POLICY_EXPIRED: 'expired',
  POLICY_STALE: 'stale',
  NOT_CONFIGURED: 'not-configured',
};

/**
 * Fetches the policy and hands it to the helper. When the org key is known
 * here (the installed config), the document is verified first: a bad one
 * gets the same clear error without bothering root, and the common case of
 * a periodic refresh finding the policy already in force asks nothing of
 * the helper (each storePolicy, even a refused one, is an audit line).
 * The helper verifies everything again and its verdict is the one that counts.
 */
export async function refreshPolicy(options: RefreshPolicyOptions): Promise<RefreshResult> {
  const document = await fetchPolicy(options.url, { timeoutMs: options.timeoutMs ?? DEFAULT_REFRESH_TIMEOUT_MS });
  const from = displayUrl(options.url);
  const now = options.now ?? new Date();
  const state = readPolicyState({ configPath: options.configPath, stateDir: options.stateDir, now });
  const orgKey = state.config.state === 'ok' ? state.config.config.orgPublicKey : undefined;
  if (state.config.state === 'ok' && orgKey === undefined) {
    throw new PolicyFetchError('not-configured', `the policy from ${from} cannot be accepted: no organization key was recorded at install`);
  }
  if (orgKey !== undefined) {
    let offered;
    try {
      offered = verifyPolicy(document, orgKey, now);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      throw new PolicyFetchError(error.kind === 'key' ? 'not-configured' : error.kind, `the policy from ${from} is refused: ${error.message}`);
    }
    const current = state.policy;
    if (policyEnforced(current) && current.version !== null && offered.version <= current.version) {
      if (state.document !== null && signedPayload(state.document) === signedPayload(document)) {
        return { status: 'unchanged', organization: offered.organization, version: offered.version, expires: offered.expires };
      }
      throw new PolicyFetchError(
        'stale',
        offered.version === current.version
          ? // Changed without raising the version: the helper would refuse it as a replay.
            `the policy from ${from} differs from the one in force but has the same version ${offered.version}; raise "version" and sign it again`
          : `the policy from ${from} is version ${offered.version}, older than version ${current.version} in force; refused (a rollback)`,
      );
    }
  }
  let stored;
  try {
    stored = await options.helper.request('storePolicy', { policy: document });
  } catch (error) {
    if (error instanceof HelperRequestError) {
      throw new PolicyFetchError(HELPER_KINDS[error.code] ?? 'helper', `the helper refused the policy from ${from}: ${error.message}`);
    }
    throw new PolicyFetchError('helper', `the policy from ${from} could not be handed to the helper: ${(error as Error).message}`);
  }
  return { status: 'stored', ...stored };
}

/** The signed payload of an already verified document: two documents with it are the same policy, however the JSON around it is spaced. */
function signedPayload(document: string): string {
  return (JSON.parse(document) as { payload: string }).payload;
}
