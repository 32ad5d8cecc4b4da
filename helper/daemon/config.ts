import { z } from 'zod';

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

export const helperConfig = z.strictObject({
  socketPath: z.string().min(1).max(100).startsWith('/'),
  allowUid: z.number().int().min(1).max(0xfffffffe),
  auditLogPath: z.string().min(1).max(4096).startsWith('/').optional(),
  limits: helperLimits.default(helperLimits.parse({})),
});

export type HelperConfig = z.infer<typeof helperConfig>;
