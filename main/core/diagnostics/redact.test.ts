import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SECRET_KINDS, secretArb } from './planted-secrets';
import { REDACTED, redactFileContent, redactJson, redactText } from './redact';
import { findSecrets, SCANNER_RULE_IDS } from './secret-scanner';

const GHP = `ghp_${'a1B2c3D4e5'.repeat(3)}x9Y8z7`;
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWJ5dGVz';

describe('redactText', () => {
  it.each([
    ['https://user:hunter2@example.com/x', `https://user:${REDACTED}@example.com/x`],
    ['https://ghp_abc123@github.com/o/r', `https://${REDACTED}@github.com/o/r`],
    ['https://h/p?a=1&token=abc#frag', `https://h/p?a=${REDACTED}&token=${REDACTED}#frag`],
    ['https://h/p#access_token=abc&x=1', `https://h/p#access_token=${REDACTED}&x=${REDACTED}`],
    // An "@" in the path may end a token with an unencoded "/": removed too, erring towards safety.
    ['https://registry.npmjs.org/@scope/pkg', `https://${REDACTED}@scope/pkg`],
    ['Authorization: Basic dXNlcjpwYXNz', `Authorization: ${REDACTED}`],
    ['sent Bearer abc.def.ghi to the server', `sent Bearer ${REDACTED} to the server`],
    ['password=abc123 user=bob', `password=${REDACTED} user=bob`],
    ['"secret": "a \\"quoted\\" value", "keep": 1', `"secret": "${REDACTED}", "keep": 1`],
    ['auth=abc author=bob', `auth=${REDACTED} author=bob`],
    // Short names only as a whole part of a key.
    ['pwd=abc MYSQL_PWD=def db-pass: ghi compass=north bypass=1 passes=3', `pwd=${REDACTED} MYSQL_PWD=${REDACTED} db-pass: ${REDACTED} compass=north bypass=1 passes=3`],
    ['mysql --password hunter2x -h db', `mysql --password ${REDACTED} -h db`],
    ['run --db-token=abc --verbose', `run --db-token=${REDACTED} --verbose`],
    ['["app","--password","p,w d"]', `["app","--password","${REDACTED}"]`],
    ['machine h.example login bob password s3cr3t!', `machine h.example login bob password ${REDACTED}`],
    ['  password s3cr3t!', `  password ${REDACTED}`],
    // "password" in a sentence that is not a .netrc line is only a word.
    ['the password was wrong, try again', 'the password was wrong, try again'],
    [`token ${JWT} expired`, `token ${REDACTED} expired`],
    [`pushed with ${GHP}.`, `pushed with ${REDACTED}.`],
  ])('%s', (input, expected) => {
    expect(redactText(input).text).toBe(expected);
  });

  it('leaves ordinary log lines alone', () => {
    const line = '2026-01-01T00:00:00.000Z info published 127.0.0.1:80 -> 127.0.0.1:8080 (direct bind)';
    expect(redactText(line)).toEqual({ text: line, count: 0 });
  });

  it('is idempotent and counts only new secrets', () => {
    const once = redactText('token=abc Authorization: Bearer x -----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----');
    expect(once.count).toBe(3);
    expect(redactText(once.text)).toEqual({ text: once.text, count: 0 });
  });

  it('costs linear time on a long run of key-like characters (no backtracking blow-up)', () => {
    // Would take hours with a backtracking key pattern; the assertion is the output, not the time.
    const blob = 'a'.repeat(200_000) + 'token' + 'b'.repeat(200_000);
    expect(redactText(`${blob}=x`).text).toBe(`${blob}=${REDACTED}`);
  });

  it("runs the scanners of secretlint's recommended preset, not its comment filter", () => {
    expect(SCANNER_RULE_IDS).toEqual(
      expect.arrayContaining(['@secretlint/secretlint-rule-github', '@secretlint/secretlint-rule-slack', '@secretlint/secretlint-rule-aws', '@secretlint/secretlint-rule-npm']),
    );
    expect(SCANNER_RULE_IDS).not.toContain('@secretlint/secretlint-rule-filter-comments');
    // A "secretlint-disable" comment in a log hides nothing.
    expect(redactText(`// secretlint-disable\n${GHP}\n// secretlint-enable`).text).toBe(`// secretlint-disable\n${REDACTED}\n// secretlint-enable`);
  });

  it("a scanner's range is widened to the end of the token it falls in", () => {
    // The AWS rule reports the key's length from where the key name starts, short of the key's end.
    const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz';
    const text = `AWS_SECRET_ACCESS_KEY=${key} next`;
    const ranges = findSecrets(text);
    expect(ranges).toHaveLength(1);
    expect(ranges[0]![1]).toBe(text.indexOf(' next'));
  });

  it('costs linear time on inputs built to make the added patterns and the rules backtrack', () => {
    // Each would take minutes to hours with a backtracking pattern; the assertion is the output, not the time.
    const n = 100_000;
    const inputs = [
      '-eyJ'.repeat(n),
      `eyJ${'a'.repeat(n)}.eyJ${'b'.repeat(n)}`,
      '--password'.repeat(n / 10),
      `--x${'-pass'.repeat(n / 5)} `,
      'ghs_1_'.repeat(n / 5),
      `xoxb-${'a1-'.repeat(n / 3)}`,
      `mongodb://${'a:'.repeat(n / 2)}`,
      `machine ${'password '.repeat(n / 9)}`,
      `ghp_${'a'.repeat(n)}`,
    ];
    for (const input of inputs) expect(redactText(input).text.length).toBeGreaterThan(0);
  });

  /** Ordinary log words: nothing in them is a secret, so all of them must be kept. */
  const words = fc
    .array(fc.constantFrom('started', 'port', '8080', 'listening', 'on', '127.0.0.1:80', 'ok', '(direct', 'bind)', '-', 'error:', 'retry', 'user', 'bob'), {
      maxLength: 8,
    })
    .map((w) => w.join(' '));

  describe.each(SECRET_KINDS.map((kind) => [kind.name, kind] as const))('%s', (_name, kind) => {
    it('never lets it through, in any way it is written, and keeps the lines around it', () => {
      fc.assert(
        fc.property(kind.secret, fc.constantFrom(...kind.contexts), words, words, (secret, context, before, after) => {
          const text = `${before}\n${context(secret)}\n${after}`;
          const asText = redactText(text).text;
          const asFile = redactFileContent(text, 'lines').text;
          for (const out of [asText, asFile]) {
            expect(out).not.toContain(secret);
            const lines = out.split('\n');
            expect(lines[0]).toBe(before);
            if (!kind.cutsToTheEnd) expect(lines.at(-1)).toBe(after);
          }
          // Once is enough: a second pass finds nothing new.
          expect(redactText(asText)).toEqual({ text: asText, count: 0 });
        }),
        { numRuns: 300 },
      );
    });

    // Only kinds that stand on their own: a bare password is just a word.
    if (kind.bare) {
    it('written bare between words, only the secret is replaced', () => {
      fc.assert(
        fc.property(kind.secret, words, words, (secret, before, after) => {
          expect(redactText(`${before} ${secret} ${after}`).text).toBe(`${before} ${REDACTED} ${after}`);
        }),
        { numRuns: 300 },
      );
    });
    }

    it('inside a JSON string of a file, under an ordinary key', () => {
      fc.assert(
        fc.property(kind.secret, fc.constantFrom(...kind.contexts), (secret, context) => {
          const doc = JSON.stringify({ note: context(secret), list: [context(secret)], port: 80 });
          const out = redactFileContent(doc, 'json').text;
          expect(out).not.toContain(secret);
          expect(JSON.parse(out)).toMatchObject({ port: 80 });
        }),
        { numRuns: 100 },
      );
    });
  });
});

describe('redactJson and redactFileContent', () => {
  it('removes every value under a sensitive key, however deep, and keeps the rest', () => {
    const out = redactJson({
      privilegedPortMapping: true,
      credentials: { user: 'bob', nested: ['a', { x: 1 }] },
      url: 'https://h/?token=abc',
      list: [{ sessionId: 7 }],
    });
    expect(out).toEqual({
      privilegedPortMapping: true,
      credentials: { user: REDACTED, nested: [REDACTED, { x: REDACTED }] },
      url: `https://h/?token=${REDACTED}`,
      list: [{ sessionId: REDACTED }],
    });
  });

  it('keeps a JSON file JSON, and JSON lines one per line', () => {
    const file = redactFileContent('{"token": "abc", "ok": true}', 'json');
    expect(JSON.parse(file.text)).toEqual({ token: REDACTED, ok: true });
    const lines = redactFileContent('{"op":"hello","args":{"password":"x"}}\nplain password=y\n', 'lines');
    expect(lines.text.split('\n')).toEqual([`{"op":"hello","args":{"password":"${REDACTED}"}}`, `plain password=${REDACTED}`, '']);
    expect(lines.count).toBe(2);
  });

  it('a private key spread over JSON-lines and log lines is cut whole', () => {
    const text = 'start\n-----BEGIN EC PRIVATE KEY-----\nAAAA\nBBBB\n-----END EC PRIVATE KEY-----\nend';
    expect(redactFileContent(text, 'lines').text).toBe(`start\n-----BEGIN EC PRIVATE KEY----- ${REDACTED} -----END EC PRIVATE KEY-----\nend`);
  });

  it('a malformed JSON file is still redacted as text', () => {
    expect(redactFileContent('{"token": "abc", oops', 'json').text).toBe(`{"token": "${REDACTED}", oops`);
  });

  it('never lets a secret under a sensitive key through a JSON file', () => {
    const key = fc.constantFrom('token', 'password', 'clientSecret', 'api_key', 'Authorization', 'sessionId', 'auth');
    fc.assert(
      fc.property(secretArb, key, fc.jsonValue({ maxDepth: 2 }), (secret, k, other) => {
        const doc = { other, deep: { list: [{ [k]: secret }] }, [k]: { inner: secret } };
        expect(redactFileContent(JSON.stringify(doc), 'json').text).not.toContain(secret);
      }),
      { numRuns: 500 },
    );
  });
});
