// Test support only (imported by the diagnostics tests, never by the app):
// secrets as they appear in the wild, one kind at a time, and the ways each
// kind is written that the redactor promises to catch.
import fc from 'fast-check';

/** A random string of `min`..`max` characters from `alphabet`. */
const chars = (alphabet: string, min: number, max = min): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max });

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALNUM = `${UPPER}${UPPER.toLowerCase()}${DIGITS}`;
const BASE64URL = `${ALNUM}_-`;

/**
 * Tokens as they come: base64/base64url/hex-ish, long enough never to occur by
 * chance, and never one character over and over (nothing keeps those apart
 * from a run of padding).
 */
export const secretArb = fc
  .stringMatching(/^[A-Za-z0-9._~+/=-]{16,40}$/)
  .filter((s) => /[A-Za-z0-9]{4}/.test(s) && new Set(s).size > 4);

/** A password as people choose them: letters, digits and a few signs, no spaces. */
const passwordArb = fc.stringMatching(/^[A-Za-z0-9!#%*+,./?@^_~-]{8,32}$/).filter((s) => /[A-Za-z0-9]{4}/.test(s) && new Set(s).size > 4);

/** The letters and digits of a random token, with the vendor's prefix. */
const prefixed = (prefixes: readonly string[], body: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(...prefixes), body).map(([prefix, rest]) => `${prefix}${rest}`);

/** base64url of a JSON object, as the header and payload of a JWT are (so they start "eyJ"). */
const jwtPart = (min: number, max: number): fc.Arbitrary<string> =>
  fc
    .dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.oneof(fc.stringMatching(/^[A-Za-z0-9 .:@-]{0,24}$/), fc.nat()), {
      minKeys: 1,
      maxKeys: 6,
    })
    .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url'))
    .filter((s) => s.length >= min && s.length <= max);

export interface SecretKind {
  /** What kind of secret, for test names. */
  name: string;
  /** Random secrets of this kind. */
  secret: fc.Arbitrary<string>;
  /** Each way the kind is written in a log, a command line or a config file. */
  contexts: ReadonlyArray<(s: string) => string>;
  /**
   * The secret stands on its own (a vendor's prefix, a JWT's shape): written
   * bare between ordinary words, only the secret is replaced.
   */
  bare: boolean;
  /** Its redaction takes everything after it (an unterminated private key). */
  cutsToTheEnd?: boolean;
}

/** Every kind of secret the diagnostics archive must never carry. */
export const SECRET_KINDS: readonly SecretKind[] = [
  {
    name: 'credentials in a URL',
    secret: secretArb,
    contexts: [
      (s) => `fetching https://deploy:${s}@example.com/policy.json`,
      (s) => `git remote https://${s}@github.com/org/repo.git`,
      (s) => `GET https://example.com/cb?code=1&access_token=${s}&x=y done`,
      (s) => `url=https://example.com/download?${s}`,
      (s) => `redirect http://localhost:8080/#state=abc&id_token=${s}`,
      (s) => `connecting to postgres://app:${s}@db.internal:5432/berth`,
    ],
    bare: false,
  },
  {
    name: 'an authorization header',
    secret: secretArb,
    contexts: [
      (s) => `Authorization: Bearer ${s}`,
      (s) => `authorization: Basic ${s}`,
      (s) => `proxy said: bearer ${s}`,
      (s) => `Cookie: session=${s}; theme=dark`,
      (s) => `X-Api-Key: ${s}`,
    ],
    bare: false,
  },
  {
    name: 'a secret-named key',
    secret: secretArb,
    contexts: [
      (s) => `token=${s}`,
      (s) => `login --user bob password=${s}`,
      (s) => `db password: ${s}`,
      (s) => `client_secret=${s}&grant_type=client_credentials`,
      (s) => `{"apiKey": "${s}", "name": "x"}`,
      (s) => `config {\\"token\\":\\"${s}\\"} in a quoted log line`,
      (s) => `PRIVATE_TOKEN='${s}'`,
    ],
    bare: false,
  },
  {
    name: 'a private key',
    secret: secretArb,
    contexts: [
      (s) => `-----BEGIN RSA PRIVATE KEY-----\n${s}\n${s}\n-----END RSA PRIVATE KEY-----`,
      (s) => `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n${s}\n-----END OPENSSH PRIVATE KEY-----`,
    ],
    bare: false,
  },
  {
    name: 'a private key cut short',
    secret: secretArb,
    // No END line: everything after BEGIN goes, the lines after it too.
    contexts: [(s) => `-----BEGIN PRIVATE KEY-----\n${s}\n(the file was cut here)`],
    bare: false,
    cutsToTheEnd: true,
  },
  {
    name: 'a GitHub token',
    // Classic tokens: a type prefix and 36 characters.
    secret: prefixed(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], chars(`${ALNUM}_`, 36)),
    contexts: [(s) => `gh auth login --with-token ${s}`, (s) => `export GH=${s}`, (s) => `{"gh": "${s}"}`, (s) => `git push https://github.com/o/r.git ${s}`],
    bare: true,
  },
  {
    name: 'a GitHub fine-grained token',
    secret: chars(`${ALNUM}_`, 82).map((rest) => `github_pat_${rest}`),
    contexts: [(s) => `using ${s} for the API`, (s) => `GH_ENTERPRISE=${s}`],
    bare: true,
  },
  {
    name: 'a Slack token',
    secret: fc
      .tuple(fc.constantFrom('xoxb', 'xoxp', 'xoxa', 'xoxr'), chars(DIGITS, 10, 13), chars(DIGITS, 10, 13), chars(ALNUM, 24))
      .map(([kind, team, user, rest]) => `${kind}-${team}-${user}-${rest}`),
    contexts: [(s) => `slack notifier started with ${s}`, (s) => `SLACK_BOT=${s}`, (s) => `"slack": "${s}"`],
    bare: true,
  },
  {
    name: 'a Slack webhook',
    // The part after the team and bot ids is the secret; the whole path is removed.
    secret: chars(ALNUM, 24),
    contexts: [
      (s) => `posting to https://hooks.slack.com/services/T0123ABCD/B0456EFGH/${s}`,
      (s) => `{"webhook": "https://hooks.slack.com/services/TABCDE123/B98765ZYX/${s}"}`,
    ],
    bare: false,
  },
  {
    name: 'an AWS access key id',
    secret: prefixed(['AKIA', 'ASIA', 'AROA'], chars(`${UPPER}${DIGITS}`, 16)),
    contexts: [
      (s) => `s3 upload as ${s} to bucket logs`,
      (s) => `aws_access_key_id = ${s}`,
      (s) => `{"AccessKeyId": "${s}", "Expiration": "2026-01-01"}`,
    ],
    bare: true,
  },
  {
    name: 'an AWS secret access key',
    secret: chars(`${ALNUM}/+`, 40).filter((s) => /[A-Za-z0-9]{4}/.test(s)),
    contexts: [
      (s) => `AWS_SECRET_ACCESS_KEY=${s}`,
      (s) => `aws_secret_access_key = ${s}`,
      (s) => `{"SecretAccessKey": "${s}"}`,
      (s) => `aws configure --aws-secret-access-key ${s} --region eu-west-1`,
    ],
    bare: false,
  },
  {
    name: 'a JWT',
    secret: fc
      .tuple(jwtPart(12, 80), jwtPart(12, 200), chars(BASE64URL, 43, 86))
      .map(([header, payload, signature]) => `${header}.${payload}.${signature}`),
    contexts: [(s) => `session ${s} expired`, (s) => `(${s})`, (s) => `id_token '${s}' refused`],
    bare: true,
  },
  {
    name: 'a .netrc password',
    secret: passwordArb,
    contexts: [
      (s) => `machine api.example.com login bob password ${s}`,
      (s) => `machine api.example.com\n  login bob\n  password ${s}\n`,
      (s) => `default login anonymous password ${s}`,
      (s) => `machine h password ${s} login bob`,
    ],
    bare: false,
  },
  {
    name: 'a password argument',
    secret: passwordArb,
    contexts: [
      (s) => `mysql --password ${s} -h db.internal`,
      (s) => `/usr/bin/tool --password=${s} --verbose`,
      (s) => `pg_dump --db-password ${s}`,
      (s) => `client --token ${s}`,
      (s) => `["/usr/bin/app","--password","${s}"]`,
    ],
    bare: false,
  },
  {
    name: 'a pwd= or pass: pair',
    secret: passwordArb,
    contexts: [(s) => `pwd=${s}`, (s) => `MYSQL_PWD=${s} mysql`, (s) => `pass: ${s}`, (s) => `db_pass=${s}`, (s) => `{"pass": "${s}"}`, (s) => `PASS='${s}'`],
    bare: false,
  },
  {
    name: 'an npm token',
    secret: chars(ALNUM, 36).map((rest) => `npm_${rest}`),
    contexts: [(s) => `//registry.npmjs.org/:_authToken=${s}`, (s) => `publishing with ${s}`],
    bare: true,
  },
  {
    name: 'a GitLab token',
    secret: chars(`${ALNUM}_-`, 20, 40).map((rest) => `glpat-${rest}`),
    contexts: [(s) => `git clone with ${s}`, (s) => `GL=${s}`],
    bare: true,
  },
  {
    name: 'a Stripe key',
    secret: prefixed(['sk_live_', 'rk_live_', 'sk_test_'], chars(ALNUM, 24, 60)),
    contexts: [(s) => `charging with ${s}`, (s) => `STRIPE=${s}`],
    bare: true,
  },
];
