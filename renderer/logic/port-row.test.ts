import { describe, expect, it } from 'vitest';
import type { MappingStatus } from '../../common/ports/mapping';
import { portProblem, portState } from './port-row';

const NO_POLICY = { organization: null, portMappingLockedOff: false };
const ACME = { organization: 'Acme Corp', portMappingLockedOff: true };

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
    expect(portProblem(row, NOW, NO_POLICY)).toEqual({
      text: '127.0.0.1:8080 is already in use by another program; trying again in 8 s.',
      tone: 'warning',
    });
    // Read again a few seconds later (the row re-renders every second): still true.
    expect(portProblem(row, NOW + 5_500, NO_POLICY)?.text).toBe('127.0.0.1:8080 is already in use by another program; trying again in 3 s.');
    expect(portProblem(row, NOW + 8_000, NO_POLICY)?.text).toBe('127.0.0.1:8080 is already in use by another program; trying again now.');
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
        NO_POLICY,
      ),
    ).toEqual({
      text: "10.88.0.1 is not an address of this machine; trying again as soon as this machine's addresses change, or in 30 s.",
      tone: 'warning',
    });
  });

  it('waiting for the helper: its sentence, no countdown, no code', () => {
    expect(
      portProblem(
        { state: 'waiting', error: { code: 'HELPER_NEEDED', message: 'port 80 needs the privileged helper, which is not installed or not running' }, retry: null },
        NOW,
        NO_POLICY,
      ),
    ).toEqual({ text: 'Port 80 needs the privileged helper, which is not installed or not running.', tone: 'warning' });
  });

  it('an error is a sentence with no code in it, and a listening row has no problem line', () => {
    expect(portProblem({ state: 'error', error: { code: 'FAILED', message: 'the system refused 127.0.0.1:80' }, retry: null }, NOW, NO_POLICY)).toEqual({
      text: 'The system refused 127.0.0.1:80.',
      tone: 'error',
    });
    expect(portProblem({ state: 'listening', error: null, retry: null }, NOW, NO_POLICY)).toBeNull();
  });
});

describe('portState', () => {
  const locked = { code: 'LOCKED', message: '127.0.0.1:3000 is not allowed by Acme Corp policy v3: port 3000 is on its list of denied ports' };
  const helperOff = { code: 'HELPER_NEEDED', message: 'port 443 needs the privileged helper, and privileged port mapping is turned off by Acme Corp policy v3' };

  it("says 'Blocked by <organization>' for a port its policy refuses, not 'Error' or 'Waiting'", () => {
    expect(portState({ state: 'error', error: locked, retry: null }, ACME)).toEqual({ label: 'Blocked by Acme Corp', tone: 'error' });
    expect(portState({ state: 'waiting', error: helperOff, retry: null }, ACME)).toEqual({ label: 'Blocked by Acme Corp', tone: 'error' });
    expect(portProblem({ state: 'waiting', error: helperOff, retry: null }, NOW, ACME)?.tone).toBe('error');
  });

  it('names no organization it does not know', () => {
    expect(portState({ state: 'error', error: locked, retry: null }, { organization: null, portMappingLockedOff: false }).label).toBe('Blocked by your organization');
  });

  it('waits for the helper when no policy holds the setting off', () => {
    expect(portState({ state: 'waiting', error: { ...helperOff, message: 'port 443 needs the privileged helper' }, retry: null }, NO_POLICY)).toEqual({
      label: 'Waiting',
      tone: 'warning',
    });
    expect(portState({ state: 'listening', error: null, retry: null }, ACME)).toEqual({ label: 'Listening', tone: 'ok' });
  });
});
