/**
 * Browser mode's link, shared by the server that makes it (main/core/browser)
 * and the page that reads it (renderer/bridge/http.ts): a launch code in the
 * query, single use, for a minute (T25).
 */
export const LAUNCH_PARAM = 'launch';

/** What whoever uses a link twice or too late is told. */
export const LAUNCH_REFUSED =
  'This link to Berth was already used or is too old (a link works once, for a minute). Run "berth app --open" to open Berth again.';
