import { describe, expect, it } from 'vitest';
import type { MappingStatus } from '../../common/ports/mapping';
import { portProblem } from './port-row';

const NOW = Date.parse('2030-01-01T00:00:00.000Z');
const at = (ms: number): string => new Date(NOW + ms).toISOString();

type Row = Pick<MappingStatus, 'state' | 'error' | 'retry'>;

describe('portProblem', () => {
  it('a port in use: one sentence with the countdown, no code', () => {
    const row: Row = {
      state: 'waiting',
      error: { code: 'PORT_IN_USE', message: '127.0.0.1:8080 is already in use by another program' },
      retry: { at: at(8_000), onAddressChange: false },
    };
    expect(portProblem(row, NOW)).toEqual({
      text: '127.0.0.1:8080 is already in use by another program; trying again in 8 s.',
      tone: 'warning',
      code: null,
    });
    // Read again a few seconds later (the row re-renders every second): still true.
    expect(portProblem(row, NOW + 5_500)?.text).toBe('127.0.0.1:8080 is already in use by another program; trying again in 3 s.');
    expect(portProblem(row, NOW + 8_000)?.text).toBe('127.0.0.1:8080 is already in use by another program; trying again now.');
  });

  it('an address not up yet, where the OS says when it appears', () => {
    expect(
      portProblem(
        {
          state: 'waiting',
          error: { code: 'ADDRESS_UNAVAILABLE', message: '10.88.0.1 is not an address of this machine' },
          retry: { at: at(30_000), onAddressChange: true },
        },
        NOW,
      ),
    ).toEqual({
      text: "10.88.0.1 is not an address of this machine; trying again as soon as this machine's addresses change, or in 30 s.",
      tone: 'warning',
      code: null,
    });
  });

  it('waiting for the helper: its sentence, no countdown, no code', () => {
    expect(
      portProblem(
        { state: 'waiting', error: { code: 'HELPER_NEEDED', message: 'port 80 needs the privileged helper, which is not installed or not running' }, retry: null },
        NOW,
      ),
    ).toEqual({ text: 'Port 80 needs the privileged helper, which is not installed or not running.', tone: 'warning', code: null });
  });

  it('an error keeps its code, and a listening row has no problem line', () => {
    expect(portProblem({ state: 'error', error: { code: 'LOCKED', message: 'port 3000 is on the list of denied ports' }, retry: null }, NOW)).toEqual({
      text: 'Port 3000 is on the list of denied ports.',
      tone: 'error',
      code: 'LOCKED',
    });
    expect(portProblem({ state: 'listening', error: null, retry: null }, NOW)).toBeNull();
  });
});
