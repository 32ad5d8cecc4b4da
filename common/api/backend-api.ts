import { z } from 'zod';
import { capabilitiesSchema } from './capabilities';
import { mappingKey, mappingSpec, mappingStatus } from '../ports/mapping';
import { lockedSettingsSchema, settingsSchema, settingsShape } from '../settings/schema';

/**
 * The backend's API: one definition of every method the renderer (through the
 * preload or the browser bridge) and the CLI (through the control socket) may
 * call, with strict schemas on both sides. The backend validates every call's
 * params; clients validate every result. Nothing else crosses these boundaries.
 */

/**
 * What a notice's button does: one of the API's own methods that takes no
 * parameters (or only optional ones), so every client can run it as it is.
 */
export const noticeFixSchema = z.strictObject({
  label: z.string().max(40),
  method: z.enum(['helper.install', 'capabilities.refresh', 'app.openSettings']),
});
export type NoticeFix = z.infer<typeof noticeFixSchema>;

/**
 * Something the user should know now. `key` names the situation, so a
 * situation is shown at most once (a newer notice with the same key replaces
 * it), and the backend drops it as soon as it is no longer true.
 */
export const noticeSchema = z.strictObject({
  key: z.string().max(100),
  level: z.enum(['info', 'warning', 'error']),
  /** One sentence. */
  text: z.string(),
  /** At most one line of detail (the cause, as the system said it), or null. */
  detail: z.string().nullable(),
  fix: noticeFixSchema.nullable(),
});
export type Notice = z.infer<typeof noticeSchema>;

export const diagnosticsState = z.strictObject({
  state: z.enum(['idle', 'running', 'done', 'failed']),
  /** What is being gathered now, e.g. "privileged trace (3 of 5 s)". */
  step: z.string().nullable(),
  /** 0..1 */
  progress: z.number().min(0).max(1),
  path: z.string().nullable(),
  error: z.string().nullable(),
});
export type DiagnosticsState = z.infer<typeof diagnosticsState>;

/** What the app shows: the backend's store, mirrored by the renderer. */
export const backendState = z.strictObject({
  capabilities: capabilitiesSchema,
  settings: settingsSchema,
  /** Locked by the organization's policy: these keys cannot be changed anywhere. */
  locked: lockedSettingsSchema,
  ports: z.array(mappingStatus),
  diagnostics: diagnosticsState,
  notices: z.array(noticeSchema),
  /** A pending OS prompt (install/uninstall/update), so the UI can say "waiting for your password". */
  prompt: z.enum(['install', 'uninstall']).nullable(),
  /**
   * Whether this way of running Berth can start it at login, and one sentence:
   * what turning it on does, or why it cannot (then the setting is not offered).
   */
  startAtLogin: z.strictObject({ available: z.boolean(), description: z.string() }),
});
export type BackendState = z.infer<typeof backendState>;

/**
 * The backend process's own figures (`app.metrics`): its memory now, and its
 * event-loop delay since start or the last reset, or null when that monitor
 * is off (it runs only with BERTH_LOOP_DELAY=1: main/core/diagnostics/loop-delay.ts).
 */
export const runtimeMetrics = z.strictObject({
  loopDelay: z
    .strictObject({
      resolutionMs: z.number(),
      samples: z.number().int().min(0),
      sinceMs: z.number().min(0),
      p50Ms: z.number().min(0),
      p99Ms: z.number().min(0),
      maxMs: z.number().min(0),
    })
    .nullable(),
  memory: z.strictObject({
    rssBytes: z.number().min(0),
    heapUsedBytes: z.number().min(0),
    heapTotalBytes: z.number().min(0),
    externalBytes: z.number().min(0),
    arrayBuffersBytes: z.number().min(0),
  }),
});
export type RuntimeMetrics = z.infer<typeof runtimeMetrics>;

/** One setting change: the key, and a value its own schema accepts. */
export const settingChange = z.union(
  (Object.keys(settingsShape) as Array<keyof typeof settingsShape>).map((key) =>
    z.strictObject({ key: z.literal(key), value: settingsShape[key] }),
  ) as unknown as readonly [z.ZodTypeAny, z.ZodTypeAny, ...z.ZodTypeAny[]],
) as z.ZodType<{ [K in keyof typeof settingsShape]: { key: K; value: z.infer<(typeof settingsShape)[K]> } }[keyof typeof settingsShape]>;
export type SettingChange = z.infer<typeof settingChange>;

/** The outcome of an OS authorization prompt, as the UI and CLI report it. */
export const promptOutcome = z.strictObject({
  kind: z.enum(['approved', 'cancelled', 'not-authorized', 'no-agent', 'unavailable', 'failed', 'unsafe-location', 'untrusted-helper']),
  message: z.string(),
});
export type PromptOutcome = z.infer<typeof promptOutcome>;

const empty = z.strictObject({});
/**
 * An elevated helper command's confirmation: true only after the user read
 * capabilities.helper.installWarning (someone other than root can change the
 * helper) and chose to go on. Without it the backend refuses such a prompt.
 */
const elevatedParams = z.strictObject({ allowUnsafeLocation: z.boolean().optional() });

export const API_METHODS = {
  'state.get': { params: empty, result: backendState },
  'capabilities.refresh': { params: empty, result: capabilitiesSchema },
  'ports.add': { params: mappingSpec, result: mappingStatus },
  'ports.remove': { params: mappingKey, result: z.strictObject({ removed: z.literal(true) }) },
  'settings.set': { params: settingChange, result: settingsSchema },
  /** The consent screen's answer; `install` runs the OS prompt. */
  'consent.decide': {
    params: z.strictObject({ choice: z.enum(['install', 'limited']), allowUnsafeLocation: z.boolean().optional() }),
    result: promptOutcome.nullable(),
  },
  'helper.install': { params: elevatedParams, result: promptOutcome },
  'helper.uninstall': { params: elevatedParams, result: promptOutcome },
  /** Answer to "the helper is older: update it?" — asked once per bundled version. */
  'helper.declineUpdate': { params: empty, result: z.strictObject({ ok: z.literal(true) }) },
  diagnose: { params: empty, result: z.strictObject({ path: z.string() }) },
  'audit.tail': {
    params: z.strictObject({ lines: z.number().int().min(1).max(500) }),
    result: z.strictObject({ lines: z.array(z.string()), error: z.string().nullable() }),
  },
  'notices.dismiss': { params: z.strictObject({ key: z.string().max(100) }), result: z.strictObject({ ok: z.literal(true) }) },
  /** The tray popover's Quit: ends the app (in browser mode, the backend and its server). */
  'app.quit': { params: empty, result: z.strictObject({ ok: z.literal(true) }) },
  /** The popover's "Settings…": shows the Settings window (browser mode answers false; the page opens #settings itself). */
  'app.openSettings': { params: empty, result: z.strictObject({ opened: z.boolean() }) },
  /**
   * A new link to the app's window, for `berth app --open` when the app already runs: browser mode's
   * launch link (single use, a minute: T25); null where the app has windows of its own (Electron).
   */
  'app.windowLink': { params: empty, result: z.strictObject({ url: z.string().max(2048).nullable() }) },
  /** The backend's memory and event-loop delay (benchmarks, diagnostics); `reset` starts the delay figures afresh. */
  'app.metrics': { params: z.strictObject({ reset: z.boolean().optional() }), result: runtimeMetrics },
} as const;

export type ApiMethod = keyof typeof API_METHODS;
export type ApiParams<M extends ApiMethod> = z.infer<(typeof API_METHODS)[M]['params']>;
export type ApiResult<M extends ApiMethod> = z.infer<(typeof API_METHODS)[M]['result']>;

export function isApiMethod(name: string): name is ApiMethod {
  return Object.prototype.hasOwnProperty.call(API_METHODS, name);
}

/** Error codes a method may fail with; `message` is one sentence for the user. */
export const API_ERROR_CODES = [
  'INVALID', // params failed the schema
  'CONFLICT', // e.g. a duplicate mapping
  'LOCKED', // locked by your organization
  'NOT_FOUND',
  'PORT_IN_USE',
  'ADDRESS_UNAVAILABLE', // not an address of this machine
  'HELPER_NEEDED', // a privileged port, and the helper is not installed / mapping is off
  'HELPER_UNAVAILABLE',
  'BUSY', // e.g. diagnostics already running
  'FAILED',
] as const;
export const apiErrorCode = z.enum(API_ERROR_CODES);
export type ApiErrorCode = z.infer<typeof apiErrorCode>;

export const apiError = z.strictObject({ code: apiErrorCode, message: z.string() });

/** Thrown by the backend core; carried as {code, message} over every transport. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The typed API every transport exposes (the preload's `window.berth`, the browser bridge, the control client). */
export interface BerthApi {
  call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>>;
  /** Every state change, as a full snapshot; returns the unsubscribe. */
  subscribe(listener: (state: BackendState) => void): () => void;
}

/** A call's reply on every wire (control socket, browser bridge): the result, or the error. */
export const callReply = z.union([
  z.strictObject({ ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: apiError }),
]);
