import { z } from 'zod';
import { loadPublicKey } from '../../common/policy/keys';

function isEd25519PublicKey(pem: string): boolean {
  try {
    loadPublicKey(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the daemon needs to run. `serve` builds it from flags; the installed
 * service reads the same shape from root-owned config.
 */
export const helperLimits = z.strictObject({
  /** Open authorized connections at once; more get BUSY (the one allowed user cannot starve root of fds). */
  maxConnections: z.number().int().min(1).max(1024).default(64),
  /** A frame begun must finish within this; stops a slow-loris client from pinning buffers. */
  frameDeadlineMs: z.number().int().min(10).max(600_000).default(5_000),
  /** A connection silent this long is closed; the client reconnects when it needs to. */
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
});

export type HelperLimits = z.infer<typeof helperLimits>;

/** Absolute and normalized: no '.', '..' or empty components to reinterpret later. */
const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p === '/' || (/^\/[^\0]*[^/]$/.test(p) && !p.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..')), {
    message: 'must be an absolute, normalized path',
  });

export const helperConfig = z.strictObject({
  socketPath: absolutePath.refine((p) => p.length <= 100, { message: 'must fit in a UNIX socket address (100 bytes)' }),
  allowUid: z.number().int().min(1).max(0xfffffffe),
  auditLogPath: absolutePath.optional(),
  /** Where the app is installed; CLI link targets are computed from it, never taken from a request. */
  appPath: absolutePath.optional(),
  /** The system directory for CLI links. */
  linkDir: absolutePath.default('/usr/local/bin'),
  /** The organization's Ed25519 public key (PEM), recorded at install; policies must be signed by it. */
  orgPublicKey: z
    .string()
    .min(1)
    .max(4096)
    .refine((pem) => isEd25519PublicKey(pem), { message: 'must be an Ed25519 public key (PEM)' })
    .optional(),
  /** Root-owned directory for state the user may read but not change (the policy cache). */
  stateDir: absolutePath.default('/var/lib/berth'),
  limits: helperLimits.default(helperLimits.parse({})),
});

export type HelperConfig = z.infer<typeof helperConfig>;
