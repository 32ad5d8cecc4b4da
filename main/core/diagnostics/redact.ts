/**
 * Takes secrets out of everything the diagnostics archive holds, before a
 * byte is written: the archive is meant to be sent to someone. Two layers,
 * erring towards removing too much:
 *
 * 1. Structure, here: what a secret is by where it stands, whatever it looks
 *    like. Private key PEM blocks (an unterminated one: everything after
 *    BEGIN); in URLs the userinfo's password (or the whole userinfo when it
 *    is a bare token, as in https://TOKEN@host), every query value and
 *    fragment values (OAuth puts tokens there); Authorization / Cookie style
 *    header values and `Bearer` tokens; the value of any key that names a
 *    secret (token, password, secret, api key, credentials, cookie, session
 *    id, signature..., and pass / pwd / pw / auth as a whole part of a key),
 *    written as key=value, key: value, "key": "value", or as a command-line
 *    flag and its argument (`--password X`); a .netrc `password`; a JWT (three
 *    base64url parts, the first two JSON objects); in JSON files, every value
 *    under such a key however deep.
 *
 * 2. Shape, by a secret scanner's rule set rather than our own expressions:
 *    vendor tokens found wherever they stand (GitHub, Slack tokens and
 *    webhooks, AWS key ids, npm, GitLab, Stripe, OpenAI...). The rules are
 *    secretlint's recommended preset (@secretlint/secretlint-rule-preset-
 *    recommend): the scanner most used on npm, kept up by its author as
 *    vendors add formats, bundled into one file with no dependencies (so
 *    esbuild takes it into the backend and the CLI as it is), and its rules
 *    scan a string synchronously, which this redactor needs (see
 *    secret-scanner.ts; its package says Node 22, the rules run on the
 *    project's Node 20 too, and the tests run them there). gitleaks' rules
 *    were the other candidate; no maintained npm package carries them as
 *    JavaScript expressions (Go's syntax differs), only wrappers around the
 *    binary.
 *
 * Every pattern here is linear in its input (see the tests): a key name or
 * token is taken whole from the start of its run of characters, never by
 * backtracking.
 */
import { findSecrets } from './secret-scanner';

export const REDACTED = '[REDACTED]';

export interface Redacted {
  text: string;
  /** How many secrets were taken out. */
  count: number;
}

/** Names that mark their value as a secret, anywhere in a key. */
const SENSITIVE_NAME =
  'token|passw(?:or)?d|passphrase|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|cookie|session[_-]?id|signature|authorization';
/**
 * Short names that mark a secret only as a whole part of a key (DB_PASS,
 * mysql-pwd, pass, auth), never inside a word: "compass", "author", "bypass".
 */
const SHORT_NAME = '(?<![A-Za-z0-9])(?:pass|pwd|pw|auth)(?![A-Za-z0-9])';
const SENSITIVE_KEY = new RegExp(`(?:${SENSITIVE_NAME})|${SHORT_NAME}`, 'i');
/** The short names in a camelCase JSON key: dbPass, userPwd. */
const CAMEL_SHORT_NAME = /[a-z0-9](?:Pass|Pwd|Pw|Auth)(?![a-z])/;

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const URL = /\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s"'<>`]+/gi;
/** A header written unquoted: its whole value is the secret (Basic, Digest, cookies...). */
const HEADER = /\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token|private-token)([ \t]*:[ \t]*)(?!["'\s])([^\r\n]+)/gi;
const BEARER = /\b(bearer)([ \t]+)(?!\[REDACTED\])([^\s"',;]+)/gi;
/** Characters of a key name (and of the words a key is searched in). */
const WORD = 'A-Za-z0-9_.-';
/**
 * A key naming a secret, matched from a word's start only and taken whole
 * through a lookahead capture (group `n`), so a long run of word characters
 * (a base64 blob in a log) costs linear time, never backtracking.
 */
const secretKey = (n: number): string =>
  String.raw`(?<![${WORD}])(?=[${WORD}]*?(?:${SENSITIVE_NAME}|${SHORT_NAME}))(?=([${WORD}]+))` + `\\${n}`;
/**
 * A value: quoted (also \"escaped\" inside a JSON string), or up to the next
 * space, quote, `&`, `;` or closing bracket. Not up to a comma: passwords hold
 * commas more often than logs end a value with one.
 */
const VALUE = String.raw`(\[REDACTED\]|\\"[^"\r\n]*?\\"|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'|[^\s&;'"}\]]+)`;
/** key=value, key: value, "key": "value" (also \"key\": \"value\" inside an escaped string). */
const KEY_VALUE = new RegExp(String.raw`((?:\\?["'])?${secretKey(2)}(?:\\?["'])?[ \t]*[:=][ \t]*)${VALUE}`, 'gi');
/**
 * A command-line flag naming a secret and its argument: `--password X`,
 * `-token X`, or quoted in a list, `"--password", "X"` (the `=` form is a
 * key=value). The argument may start with "-" (a password may): after a flag
 * that takes none (`--password-stdin --user bob`) the next flag goes too.
 */
const FLAG_ARGUMENT = new RegExp(
  String.raw`((?:\\?["'])?(?=-)${secretKey(2)}(?:\\?["'])?(?:[ \t]+|(?<=["'])[ \t]*,[ \t]*))${VALUE}`,
  'gi',
);
/**
 * A .netrc line: one that starts an entry or names a login (machine h login
 * u password p, on one line or several). Its `password` and `account` words
 * are followed by the secret, with only spaces between.
 */
const NETRC_LINE = /^[ \t]*(?:password|passwd|account)[ \t]|(?<![\w-])(?:machine|default|login)(?![\w-])/i;
const NETRC_WORD = /password|passwd|account/i;
const NETRC_SECRET = /(?<![\w-])(password|passwd|account)([ \t]+)(?!\[REDACTED\])(\S+)/gi;
/**
 * A JSON Web Token: "eyJ" (base64url of '{"') heads its header and its
 * payload. Each part is taken whole from its run's start (linear time).
 */
const JWT = /(?<![A-Za-z0-9_-])eyJ(?=([A-Za-z0-9_-]*))\1\.eyJ(?=([A-Za-z0-9_-]*))\2\.(?=([A-Za-z0-9_-]*))\3/g;

/** One line, so a key inside a JSON string stays valid JSON once replaced. */
const pemReplacement = (kind: string): string => `-----BEGIN ${kind}PRIVATE KEY----- ${REDACTED} -----END ${kind}PRIVATE KEY-----`;

/** Whether a JSON key or setting name marks its value as a secret. */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key) || CAMEL_SHORT_NAME.test(key);
}

/** A command-line argument that says the next one is a secret: `--password`, `--db-token` (not `--password=x`). */
function isSecretFlag(arg: string): boolean {
  return /^--?[A-Za-z0-9_.-]+$/.test(arg) && isSensitiveKey(arg);
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

/** A quoted value's quotes, kept around [REDACTED]. */
function requote(value: string): { quote: string; inner: string } {
  const quote = value.startsWith('\\"') ? '\\"' : value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
  return { quote, inner: quote === '' ? value : value.slice(quote.length, value.length - quote.length) };
}

/** The text with every secret it recognises replaced by [REDACTED]. */
export function redactText(input: string): Redacted {
  const counter = { count: 0 };
  const [text] = scanMany([redactStructure(input, counter)], counter);
  return { text: text!, count: counter.count };
}

/** The structural passes (layer 1): secrets by where they stand. */
function redactStructure(input: string, counter: { count: number }): string {
  const hit = (replacement: string): string => {
    counter.count++;
    return replacement;
  };
  const keyed = (m: string, key: string, _word: string | undefined, value: string): string => {
    const { quote, inner } = requote(value);
    return inner === REDACTED ? m : hit(`${key}${quote}${REDACTED}${quote}`);
  };
  let text = input.replace(PEM_PRIVATE_KEY, (m, kind: string) => (m === pemReplacement(kind) ? m : hit(pemReplacement(kind))));
  text = text.replace(URL, (url) => redactUrl(url, counter));
  text = text.replace(HEADER, (m, name: string, sep: string, value: string) => (value === REDACTED ? m : hit(`${name}${sep}${REDACTED}`)));
  text = text.replace(BEARER, (_m, word: string, sep: string) => hit(`${word}${sep}${REDACTED}`));
  text = text.replace(KEY_VALUE, keyed);
  // The cheap checks first: most strings in a log have no flag, no .netrc word, no JWT.
  if (text.includes('-')) text = text.replace(FLAG_ARGUMENT, keyed);
  if (NETRC_WORD.test(text)) {
    text = text.replace(/[^\n]+/g, (line) =>
      NETRC_LINE.test(line) ? line.replace(NETRC_SECRET, (_m, word: string, sep: string) => hit(`${word}${sep}${REDACTED}`)) : line,
    );
  }
  return text.includes('eyJ') ? text.replace(JWT, () => hit(REDACTED)) : text;
}

/**
 * The scanner's pass (layer 2) over many strings at once: they are scanned
 * joined by line breaks (one pass of the rules over a file, not one per line
 * or per JSON string, which costs ten times as much), and each range found
 * is cut back to the strings it touches. It runs after the structural
 * passes: they keep a key's name, a rule's range may not.
 */
function scanMany(strings: readonly string[], counter: { count: number }): string[] {
  const ranges = findSecrets(strings.join('\n'));
  if (ranges.length === 0) return [...strings];
  const out: string[] = [];
  let offset = 0;
  let next = 0;
  for (const text of strings) {
    const end = offset + text.length;
    // Ranges are sorted and disjoint: skip those that end before this string.
    while (next < ranges.length && ranges[next]![1] <= offset) next++;
    let result = '';
    let at = 0;
    for (let i = next; i < ranges.length && ranges[i]![0] < end; i++) {
      const from = Math.max(ranges[i]![0], offset) - offset;
      const to = Math.min(ranges[i]![1], end) - offset;
      if (to <= from) continue;
      result += text.slice(at, from) + REDACTED;
      counter.count++;
      at = to;
    }
    out.push(result + text.slice(at));
    offset = end + 1; // the line break between strings
  }
  return out;
}

/** A JSON value with every string in it (keys too) passed through `fn`, in one fixed order. */
function mapStrings(value: unknown, fn: (text: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const newKey = fn(key);
      // defineProperty: a key named __proto__ stays a plain key.
      Object.defineProperty(out, newKey, { value: mapStrings(v, fn), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Pieces of a file after the structural passes, scanned together, then put back as they were. */
function scanPieces(pieces: ReadonlyArray<{ text: string } | { json: unknown }>, counter: { count: number }): Array<{ text: string } | { json: unknown }> {
  const strings: string[] = [];
  const collect = (text: string): string => {
    strings.push(text);
    return text;
  };
  for (const piece of pieces) {
    if ('text' in piece) collect(piece.text);
    else mapStrings(piece.json, collect);
  }
  const scanned = scanMany(strings, counter);
  let i = 0;
  const take = (): string => scanned[i++]!;
  return pieces.map((piece) => ('text' in piece ? { text: take() } : { json: mapStrings(piece.json, take) }));
}

/** A parsed JSON value with secrets removed: values under a sensitive key whole, strings as text. */
export function redactJson(value: unknown, counter: { count: number } = { count: 0 }): unknown {
  const [piece] = scanPieces([{ json: structureJson(value, counter, false) }], counter);
  return (piece as { json: unknown }).json;
}

/** The structural passes over a JSON value: every value under a sensitive key, however deep, and every string. */
function structureJson(value: unknown, counter: { count: number }, underSecret: boolean): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) {
    // An argv in a log: the argument after `--password` is the secret, though nothing in it says so.
    return value.map((v, i) => {
      const previous: unknown = value[i - 1];
      return structureJson(v, counter, underSecret || (typeof previous === 'string' && isSecretFlag(previous)));
    });
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      Object.defineProperty(out, redactStructure(key, counter), {
        value: structureJson(v, counter, underSecret || isSensitiveKey(key)),
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
  return typeof value === 'string' ? redactStructure(value, counter) : value;
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
  const pieces = pem.split('\n').map((line) => {
    const trimmed = line.trim();
    const parsed = trimmed.startsWith('{') || trimmed.startsWith('[') ? tryJson(trimmed) : undefined;
    if (parsed !== undefined && typeof parsed.value === 'object' && parsed.value !== null) return { json: structureJson(parsed.value, counter, false) };
    return { text: redactStructure(line, counter) };
  });
  const lines = scanPieces(pieces, counter).map((piece) => ('text' in piece ? piece.text : JSON.stringify(piece.json)));
  return { text: lines.join('\n'), count: counter.count };
}
