import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { MAX_POLICY_BYTES, parseJson } from '../protocol/messages';
import { formatDay } from '../text/dates';
import { PolicyError } from './errors';
import { keyIdOf, loadPrivateKey, loadPublicKey } from './keys';
import {
  POLICY_FORMAT,
  policyDocumentSchema,
  policyPayloadSchema,
  type PolicyDocument,
  type PolicyPayload,
  type VerifiedPolicy,
} from './schema';

/** Missing fields say so plainly, instead of zod's "expected string, received undefined". */
const requiredMessage = (issue: { code: string; input?: unknown }): string | undefined =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined;

/** Every issue, one per line, each naming its field (`allowedRegistries.2: must be lowercase`). */
export function describePolicyIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `${where}: ${issue.message}`;
  });
}

/** Every problem with a payload, one line each naming its field; empty when it is valid. */
export function policyPayloadIssues(value: unknown): string[] {
  const parsed = policyPayloadSchema.safeParse(value, { error: requiredMessage });
  return parsed.success ? [] : describePolicyIssues(parsed.error);
}

/** Validates a payload; a PolicyError naming every bad field otherwise. */
export function parsePolicyPayload(value: unknown): PolicyPayload {
  const parsed = policyPayloadSchema.safeParse(value, { error: requiredMessage });
  if (!parsed.success) {
    throw new PolicyError('invalid', 'payload', `payload: ${describePolicyIssues(parsed.error).join('; ')}`);
  }
  return parsed.data;
}

/**
 * Signs a payload with the organization's private key and returns the
 * document (JSON, no trailing newline). The payload is validated first so
 * an admin cannot ship a policy every machine would refuse.
 */
export function signPolicy(payload: PolicyPayload, privateKeyPem: string): string {
  const valid = parsePolicyPayload(payload);
  const privateKey = loadPrivateKey(privateKeyPem);
  const bytes = Buffer.from(JSON.stringify(valid), 'utf8');
  const document: PolicyDocument = {
    format: POLICY_FORMAT,
    keyId: keyIdOf(createPublicKey(privateKey)),
    payload: bytes.toString('base64'),
    signature: sign(null, bytes, privateKey).toString('base64'),
  };
  const text = JSON.stringify(document);
  // The helper's request frame bounds the document; refuse here rather than ship one it cannot accept.
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw new PolicyError(
      'invalid',
      'too-large',
      `the signed policy would be ${Buffer.byteLength(text)} bytes, more than the ${MAX_POLICY_BYTES} allowed`,
    );
  }
  return text;
}

/** parseJson speaks of frames; say what went wrong in the policy's terms. */
function jsonProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/^frame is not valid (JSON|UTF-8)$/.test(message)) return 'is not valid JSON (is it truncated?)';
  return `is refused: ${message}`;
}

/**
 * Checks a document's form, key id and signature, then its payload; not its
 * dates. Order matters for the message: the signature is checked before the
 * payload is even parsed, so nothing unsigned is interpreted.
 */
export function verifySignature(document: string, publicKey: string | KeyObject): VerifiedPolicy {
  const key = typeof publicKey === 'string' ? loadPublicKey(publicKey) : publicKey;
  const raw = Buffer.from(document, 'utf8');
  // Bounded like the request that carries it; also caps the work below.
  if (raw.length > MAX_POLICY_BYTES) {
    throw new PolicyError('invalid', 'too-large', `the policy is ${raw.length} bytes, more than the ${MAX_POLICY_BYTES} allowed`);
  }
  let value: unknown;
  try {
    // parseJson also refuses deep nesting and prototype-reaching keys.
    value = parseJson(raw);
  } catch (error) {
    throw new PolicyError('invalid', 'json', `the policy ${jsonProblem(error)}`);
  }
  const parsed = policyDocumentSchema.safeParse(value, { error: requiredMessage });
  if (!parsed.success) {
    const format = (value as { format?: unknown } | null)?.format;
    if (typeof format === 'string' && format !== POLICY_FORMAT) {
      throw new PolicyError('invalid', 'format', `unsupported policy format "${format.slice(0, 40)}" (this Berth reads ${POLICY_FORMAT})`);
    }
    throw new PolicyError('invalid', 'format', `not a Berth policy document: ${describePolicyIssues(parsed.error).join('; ')}`);
  }
  const doc = parsed.data;
  const expectedKeyId = keyIdOf(key);
  if (doc.keyId !== expectedKeyId) {
    throw new PolicyError(
      'invalid',
      'key-id',
      `the policy was signed with key ${doc.keyId}, but the organization key here is ${expectedKeyId}`,
    );
  }
  const bytes = Buffer.from(doc.payload, 'base64');
  if (!verify(null, bytes, key, Buffer.from(doc.signature, 'base64'))) {
    throw new PolicyError('invalid', 'signature', 'the signature does not match: the policy was altered or not signed by the organization key');
  }
  let payloadValue: unknown;
  try {
    payloadValue = parseJson(bytes);
  } catch (error) {
    throw new PolicyError('invalid', 'payload', `the signed payload ${jsonProblem(error)}`);
  }
  // Signed but not understood (e.g. made by a newer tool): refused rather than partly enforced.
  const payload = parsePolicyPayload(payloadValue);
  return { ...payload, keyId: doc.keyId, document };
}

/** Expired at `now`: the instant `expires` itself is already past. */
export function isExpired(policy: Pick<PolicyPayload, 'expires'>, now: Date): boolean {
  return now.getTime() >= Date.parse(policy.expires);
}

/**
 * Verifies a document for acceptance: form, key id, signature, payload,
 * and that it has not expired at `now`. `issued` in the future is accepted:
 * the signature, not the clock, says who made it, versions order policies,
 * and refusing would break machines whose clock runs behind the admin's.
 */
export function verifyPolicy(document: string, publicKeyPem: string, now: Date): VerifiedPolicy {
  const policy = verifySignature(document, publicKeyPem);
  if (isExpired(policy, now)) {
    throw new PolicyError('expired', 'expired', `the policy (version ${policy.version}) expired on ${formatDay(policy.expires)}`);
  }
  return policy;
}

/** True when `candidate` may replace `cached`: strictly higher version (no cache: anything). */
export function isNewerThan(candidate: Pick<PolicyPayload, 'version'>, cached: Pick<PolicyPayload, 'version'> | null | undefined): boolean {
  return cached === null || cached === undefined || candidate.version > cached.version;
}

/**
 * Refuses a replay or a rollback: an older, still-valid policy must not be
 * able to undo a newer one (e.g. re-allow a registry it removed).
 */
export function assertNewer(candidate: Pick<PolicyPayload, 'version'>, cached: Pick<PolicyPayload, 'version'> | null | undefined): void {
  if (!isNewerThan(candidate, cached)) {
    throw new PolicyError(
      'stale',
      'stale',
      `policy version ${candidate.version} is not newer than the cached version ${cached!.version}; raise "version" and sign again`,
    );
  }
}
