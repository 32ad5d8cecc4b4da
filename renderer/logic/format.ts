import type { ApiErrorCode } from '../../common/api/backend-api';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** 1536 → "1.5 KB": short enough for a 360 px popover row. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

// Shared with the tray menu (common/ports/labels.ts): one set of words for a port.
export { hostPort } from '../../common/ports/labels';

/** A heading for each error code; the message under it says the specifics. */
export const ERROR_TITLE: Record<ApiErrorCode, string> = {
  INVALID: 'Not valid',
  CONFLICT: 'Already there',
  LOCKED: 'Locked by your organization',
  NOT_FOUND: 'Not found',
  PORT_IN_USE: 'Port in use',
  ADDRESS_UNAVAILABLE: 'Address not on this machine',
  HELPER_NEEDED: 'Needs the helper',
  HELPER_UNAVAILABLE: 'Helper unavailable',
  BUSY: 'Busy',
  FAILED: 'Failed',
};

export function onOff(value: boolean): string {
  return value ? 'On' : 'Off';
}

// Shared with the tray menu (common/sentence.ts).
export { asSentence } from '../../common/sentence';
