import { z } from 'zod';
import { lockedSettingsSchema } from '../settings/schema';
import { portRulesSchema } from './port-rules';

/**
 * The organization policy: what an admin signs and ships. Two layers:
 * the document (`berth-policy/1`), which carries the signed payload bytes
 * verbatim, and the payload, which says what the policy enforces. Both are
 * strict: an unknown field is refused rather than ignored, so a field this
 * build does not understand can never be silently dropped from enforcement.
 */

export const POLICY_FORMAT = 'berth-policy/1';

/** Most entries in allowedRegistries: far beyond any real list, small enough to match quickly. */
export const MAX_ALLOWED_REGISTRIES = 200;

/** Largest version: a positive 31-bit integer, so it is exact in JSON, JS and any client language. */
export const MAX_POLICY_VERSION = 0x7fffffff;

/** One DNS label, lowercase (Docker normalizes hosts to lowercase; we make the admin write them so). */
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const HOSTNAME = `${LABEL}(?:\\.${LABEL})*`;
const IPV6 = '\\[[0-9a-f:.]+\\]';
/** A path component as the Docker reference grammar defines it (lowercase alphanumerics and separators). */
export const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PORT = '[0-9]{1,5}';

const HOST_PORT = `(${HOSTNAME}|${IPV6})(?::(${PORT}))?`;

/** `host[:port]`, anchored; groups: host, port. */
export const HOST_PORT_PATTERN = new RegExp(`^${HOST_PORT}$`);

/** `host[:port][/path/prefix]`, anchored; groups: host, port, path prefix (with its leading "/"). */
export const REGISTRY_PATTERN = new RegExp(`^${HOST_PORT}((?:/${PATH_COMPONENT})*)$`);

/**
 * One allowed-registry entry. Validated here, at signing and at verifying,
 * so a typo (a scheme, a wildcard, a trailing slash) is an error the admin
 * sees, not an entry that silently matches nothing.
 */
export const registryEntrySchema = z
  .string()
  .min(1)
  .max(255)
  .superRefine((s, ctx) => {
    const problem = registryEntryProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Why `entry` is not a valid allowed-registry entry, or undefined; one message, the most specific. */
export function registryEntryProblem(entry: string): string | undefined {
  if (entry !== entry.toLowerCase()) return 'must be lowercase';
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(entry)) return 'must not have a scheme (write registry.example.com, not https://…)';
  if (entry.includes('*')) return 'wildcards are not supported; list the host and an optional path prefix';
  if (entry.endsWith('/')) return 'must not end with "/"';
  const match = REGISTRY_PATTERN.exec(entry);
  if (match === null) return 'must be a registry host[:port][/path-prefix], e.g. registry.example.com/team';
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return 'port must be 1..65535';
  return undefined;
}

/**
 * Printable text only (no control, format or line-separator characters):
 * the name is shown in the app, printed by the CLI and written to logs.
 */
const organizationName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\p{C}\p{Zl}\p{Zp}]+$/u, 'must be printable text (no control characters)');

/** ISO-8601 in UTC only ("Z"): one unambiguous instant, whatever the admin's or user's time zone. */
const utcInstant = z.iso.datetime({
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be an ISO-8601 UTC date-time, e.g. 2026-01-31T00:00:00Z'),
});

export const policyPayloadSchema = z
  .strictObject({
    organization: organizationName,
    version: z.number().int().min(1).max(MAX_POLICY_VERSION),
    issued: utcInstant,
    expires: utcInstant,
    allowedRegistries: z.array(registryEntrySchema).max(MAX_ALLOWED_REGISTRIES),
    lockedSettings: lockedSettingsSchema,
    /** Which ports may be published, where, and UDP (port-rules.ts); absent: no limits beyond the helper's own. */
    portRules: portRulesSchema.optional(),
  })
  .refine((p) => Date.parse(p.expires) > Date.parse(p.issued), {
    message: 'must be later than issued',
    path: ['expires'],
  });

export type PolicyPayload = z.infer<typeof policyPayloadSchema>;

/**
 * Canonical base64 only: a lenient decoder ignores stray characters and the
 * unused low bits of the last character, so two different strings could
 * decode to the same signed bytes. Requiring the one canonical spelling
 * means any change to the text is a change to the bytes.
 */
export function isCanonicalBase64(text: string): boolean {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return false;
  return Buffer.from(text, 'base64').toString('base64') === text;
}

const base64 = z.string().refine(isCanonicalBase64, { message: 'must be canonical base64' });

/** Ed25519 signatures are exactly 64 bytes: 88 base64 characters with padding. */
export const ED25519_SIGNATURE_BYTES = 64;

export const policyDocumentSchema = z.strictObject({
  format: z.literal(POLICY_FORMAT),
  keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex characters'),
  payload: base64.refine((s) => s.length > 0, { message: 'must not be empty' }),
  signature: base64.refine((s) => Buffer.from(s, 'base64').length === ED25519_SIGNATURE_BYTES, {
    message: `must be a ${ED25519_SIGNATURE_BYTES}-byte Ed25519 signature`,
  }),
});

export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

/** A policy whose signature was checked against the organization key. */
export interface VerifiedPolicy extends Readonly<PolicyPayload> {
  /** The key id of the organization key that signed it. */
  readonly keyId: string;
  /** The signed document exactly as verified: cache it as-is so anyone can re-verify it. */
  readonly document: string;
}
