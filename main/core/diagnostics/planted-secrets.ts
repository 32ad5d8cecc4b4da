// Test support only (imported by the diagnostics tests, never by the app):
// secrets as they appear in the wild and the contexts the redactor promises to catch.
import fc from 'fast-check';

/** Tokens as they come: base64/base64url/hex-ish, long enough never to occur by chance. */
export const secretArb = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{16,40}$/).filter((s) => /[A-Za-z0-9]{4}/.test(s));

/** Every way a secret is written that the redactor promises to catch. */
export const SECRET_CONTEXTS: ReadonlyArray<(s: string) => string> = [
  (s) => `fetching https://deploy:${s}@example.com/policy.json`,
  (s) => `git remote https://${s}@github.com/org/repo.git`,
  (s) => `GET https://example.com/cb?code=1&access_token=${s}&x=y done`,
  (s) => `url=https://example.com/download?${s}`,
  (s) => `redirect http://localhost:8080/#state=abc&id_token=${s}`,
  (s) => `Authorization: Bearer ${s}`,
  (s) => `authorization: Basic ${s}`,
  (s) => `proxy said: bearer ${s}`,
  (s) => `Cookie: session=${s}; theme=dark`,
  (s) => `X-Api-Key: ${s}`,
  (s) => `token=${s}`,
  (s) => `login --user bob password=${s}`,
  (s) => `db password: ${s}`,
  (s) => `client_secret=${s}&grant_type=client_credentials`,
  (s) => `{"apiKey": "${s}", "name": "x"}`,
  (s) => `config {\\"token\\":\\"${s}\\"} in a quoted log line`,
  (s) => `PRIVATE_TOKEN='${s}'`,
  (s) => `-----BEGIN RSA PRIVATE KEY-----\n${s}\n${s}\n-----END RSA PRIVATE KEY-----`,
  (s) => `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n${s}\n-----END OPENSSH PRIVATE KEY-----`,
  (s) => `-----BEGIN PRIVATE KEY-----\n${s}\n(the file was cut here)`,
];
