import { describe, expect, it } from 'vitest';
import { formatDay } from './dates';

describe('formatDay', () => {
  it.each([
    ['2027-12-01T00:00:00Z', '1 Dec 2027'],
    ['2027-12-01T00:00:00.000Z', '1 Dec 2027'],
    ['2027-01-31', '31 Jan 2027'],
    ['2026-06-15T14:30:59Z', '15 Jun 2026, 14:30 UTC'],
    ['2026-06-15T23:30:00-02:00', '16 Jun 2026, 01:30 UTC'],
  ])('%s reads "%s"', (iso, text) => {
    expect(formatDay(iso)).toBe(text);
  });

  it('gives back a text that is not a date as it is', () => {
    expect(formatDay('next year')).toBe('next year');
  });
});
