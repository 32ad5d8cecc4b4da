import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SECRET_CONTEXTS, secretArb } from './planted-secrets';
import { REDACTED, redactFileContent, redactJson, redactText } from './redact';

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

  it('never lets a planted secret through, in any context, with any text around it', () => {
    const filler = fc.stringMatching(/^[a-z0-9 :,.()\n-]{0,40}$/);
    fc.assert(
      fc.property(secretArb, fc.constantFrom(...SECRET_CONTEXTS), filler, filler, (secret, context, before, after) => {
        const text = `${before}\n${context(secret)}\n${after}`;
        expect(redactText(text).text).not.toContain(secret);
        expect(redactFileContent(text, 'lines').text).not.toContain(secret);
      }),
      { numRuns: 2000 },
    );
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
