/**
 * Takes secrets out of everything the diagnostics archive holds, before a
 * byte is written: the archive is meant to be sent to someone. What counts
 * as a secret (erring towards removing too much):
 *
 * - private key PEM blocks (an unterminated one: everything after BEGIN);
 * - in URLs: the userinfo's password (or the whole userinfo when it is a
 *   bare token, as in https://TOKEN@host), every query value, and fragment
 *   values (OAuth puts tokens there);
 * - Authorization / Cookie style header values, `Bearer` tokens;
 * - the value of any key that names a secret (token, password, secret,
 *   api key, credentials, cookie, session id, signature...), written as
 *   key=value, key: value, or "key": "value";
 * - in JSON files, every value under such a key, however deep.
 */

export const REDACTED = '[REDACTED]';

export interface Redacted {
  text: string;
  /** How many secrets were taken out. */
  count: number;
}

/** Names that mark their value as a secret. `auth` alone only as a whole key (it starts "author"). */
const SENSITIVE_NAME =
  'token|passw(?:or)?d|passphrase|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|cookie|session[_-]?id|signature|authorization';
const SENSITIVE_KEY = new RegExp(`(?:${SENSITIVE_NAME})|^auth$`, 'i');

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const URL = /\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s"'<>`]+/gi;
/** A header written unquoted: its whole value is the secret (Basic, Digest, cookies...). */
const HEADER = /\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token|private-token)([ \t]*:[ \t]*)(?!["'\s])([^\r\n]+)/gi;
const BEARER = /\b(bearer)([ \t]+)(?!\[REDACTED\])([^\s"',;]+)/gi;
/** Characters of a key name (and of the words a key is searched in). */
const WORD = 'A-Za-z0-9_.-';
/**
 * key=value, key: value, "key": "value" (also \"key\": \"value\" inside an
 * escaped string). The key is matched from a word's start only and taken
 * whole through a lookahead capture, so a long run of word characters (a
 * base64 blob in a log) costs linear time, never backtracking.
 */
const KEY_VALUE = new RegExp(
  String.raw`((?:\\?["'])?(?<![${WORD}])(?:(?=[${WORD}]*?(?:${SENSITIVE_NAME}))(?=([${WORD}]+))\2|auth(?![${WORD}]))(?:\\?["'])?[ \t]*[:=][ \t]*)` +
    String.raw`(\[REDACTED\]|\\"[^"\r\n]*?\\"|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'|[^\s&;,'"}\]]+)`,
  'gi',
);

/** One line, so a key inside a JSON string stays valid JSON once replaced. */
const pemReplacement = (kind: string): string => `-----BEGIN ${kind}PRIVATE KEY----- ${REDACTED} -----END ${kind}PRIVATE KEY-----`;

/** Whether a JSON key or setting name marks its value as a secret. */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

/**
 * The userinfo@ of a URL, if it has one: everything before the last "@" ahead
 * of the query. A token may hold an unencoded "/", so an "@" in the path
 * (npm's /@scope/) is taken for one too: losing a host name in a log beats
 * leaking a token.
 */
function splitUserinfo(rest: string): { userinfo: string; after: string } | undefined {
  const end = rest.search(/[?#]/);
  const at = (end < 0 ? rest : rest.slice(0, end)).lastIndexOf('@');
  return at < 0 ? undefined : { userinfo: rest.slice(0, at), after: rest.slice(at) };
}

/** key=value pairs of a query or fragment, values replaced; a bare piece is replaced whole. */
function redactPairs(pairs: string, counter: { count: number }, bareToo: boolean): string {
  if (!bareToo && !pairs.includes('=')) return pairs; // a fragment like #section is an anchor
  return pairs
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) {
        if (pair.length === 0 || pair === REDACTED) return pair;
        counter.count++;
        return REDACTED;
      }
      const value = pair.slice(eq + 1);
      if (value === REDACTED || pair === `${REDACTED}=`) return pair;
      if (value.length === 0) {
        // "?<base64 token>=": the padding made it look like a key.
        counter.count++;
        return `${REDACTED}=`;
      }
      counter.count++;
      return `${pair.slice(0, eq + 1)}${REDACTED}`;
    })
    .join('&');
}

function redactUrl(url: string, counter: { count: number }): string {
  const sep = url.indexOf('://') + 3;
  let scheme = url.slice(0, sep);
  let rest = url.slice(sep);
  const user = splitUserinfo(rest);
  if (user !== undefined) {
    const colon = user.userinfo.indexOf(':');
    // A bare userinfo (https://TOKEN@host) is a token as often as a user name: removed whole.
    scheme += colon >= 0 ? `${user.userinfo.slice(0, colon + 1)}${REDACTED}` : REDACTED;
    if (user.userinfo !== REDACTED && user.userinfo.slice(colon + 1) !== REDACTED) counter.count++;
    rest = user.after;
  }
  const hash = rest.indexOf('#');
  const fragment = hash < 0 ? undefined : rest.slice(hash + 1);
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const q = beforeHash.indexOf('?');
  let out = q < 0 ? beforeHash : `${beforeHash.slice(0, q + 1)}${redactPairs(beforeHash.slice(q + 1), counter, true)}`;
  if (fragment !== undefined) out += `#${redactPairs(fragment, counter, false)}`;
  return scheme + out;
}

/** The text with every secret it recognises replaced by [REDACTED]. */
export function redactText(input: string): Redacted {
  const counter = { count: 0 };
  const hit = (replacement: string): string => {
    counter.count++;
    return replacement;
  };
  let text = input.replace(PEM_PRIVATE_KEY, (m, kind: string) => (m === pemReplacement(kind) ? m : hit(pemReplacement(kind))));
  text = text.replace(URL, (url) => redactUrl(url, counter));
  text = text.replace(HEADER, (m, name: string, sep: string, value: string) => (value === REDACTED ? m : hit(`${name}${sep}${REDACTED}`)));
  text = text.replace(BEARER, (_m, word: string, sep: string) => hit(`${word}${sep}${REDACTED}`));
  text = text.replace(KEY_VALUE, (m, key: string, _word: string | undefined, value: string) => {
    const quote = value.startsWith('\\"') ? '\\"' : value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    const inner = quote === '' ? value : value.slice(quote.length, value.length - quote.length);
    return inner === REDACTED ? m : hit(`${key}${quote}${REDACTED}${quote}`);
  });
  return { text, count: counter.count };
}

/** A parsed JSON value with secrets removed: values under a sensitive key whole, strings by redactText. */
export function redactJson(value: unknown, counter: { count: number } = { count: 0 }, underSecret = false): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => redactJson(v, counter, underSecret));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const cleanKey = redactString(key, counter);
      Object.defineProperty(out, cleanKey, {
        value: redactJson(v, counter, underSecret || isSensitiveKey(key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (underSecret) {
    if (value === REDACTED) return value;
    counter.count++;
    return REDACTED;
  }
  return typeof value === 'string' ? redactString(value, counter) : value;
}

function redactString(value: string, counter: { count: number }): string {
  const { text, count } = redactText(value);
  counter.count += count;
  return text;
}

function tryJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/**
 * A whole file's content, redacted: JSON structurally (so a secret under a
 * sensitive key goes whatever its shape), JSON lines one by one, anything
 * else as text. Private keys are cut across lines first, so a key spread
 * over a log's lines never survives the line-by-line pass.
 */
export function redactFileContent(content: string, kind: 'json' | 'lines'): Redacted {
  const counter = { count: 0 };
  if (kind === 'json') {
    const parsed = tryJson(content);
    if (parsed !== undefined) return { text: JSON.stringify(redactJson(parsed.value, counter), null, 2) + '\n', count: counter.count };
  }
  const pem = content.replace(PEM_PRIVATE_KEY, (m, kind: string) => {
    if (m === pemReplacement(kind)) return m;
    counter.count++;
    return pemReplacement(kind);
  });
  const lines = pem.split('\n').map((line) => {
    const trimmed = line.trim();
    const parsed = trimmed.startsWith('{') || trimmed.startsWith('[') ? tryJson(trimmed) : undefined;
    if (parsed !== undefined && typeof parsed.value === 'object' && parsed.value !== null) {
      return JSON.stringify(redactJson(parsed.value, counter));
    }
    return redactString(line, counter);
  });
  return { text: lines.join('\n'), count: counter.count };
}
