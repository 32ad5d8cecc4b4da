/** Exit codes scripts can rely on; documented in docs/CLI.md. */
export const EXIT = {
  ok: 0,
  error: 1,
  /** The helper is not installed, not running, or not ours to use. */
  helperUnavailable: 3,
  /** The helper is older than this Berth (or speaks another protocol). */
  helperNeedsUpdate: 4,
  /** The OS password prompt was cancelled, refused, or has no agent to show it. */
  promptRefused: 5,
  /** `berth settings set`: the setting is locked by the organization's policy. */
  locked: 6,
  /** The command needs the running app (e.g. `berth ports`) and Berth is not running for this user. */
  notRunning: 7,
  usage: 64,
} as const;
