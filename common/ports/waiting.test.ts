import { describe, expect, it } from 'vitest';
import type { MappingStatus } from './mapping';
import { blockedBy, mappingStateLabel, problemText, untilText } from './waiting';

const AT = Date.parse('2030-01-01T00:01:00.000Z');

function status(error: MappingStatus['error'], retry: MappingStatus['retry']): Pick<MappingStatus, 'error' | 'retry'> {
  return { error, retry };
}

const inUse = { code: 'PORT_IN_USE', message: '127.0.0.1:8080 is already in use by another program' };
const noAddress = { code: 'ADDRESS_UNAVAILABLE', message: '10.88.0.1 is not an address of this machine' };

describe('untilText', () => {
  it.each([
    [8_000, 'in 8 s'],
    [7_001, 'in 8 s'], // rounded up: never "in 0 s" while time is left
    [1, 'in 1 s'],
    [0, 'now'],
    [-3_000, 'now'], // due, the attempt under way
    [60_000, 'in 60 s'],
    [89_000, 'in 89 s'],
    [120_000, 'in 2 min'],
  ])('%p ms ahead → %p', (ahead, text) => {
    expect(untilText(AT + ahead, AT)).toBe(text);
  });

  it('says "now" for a time it cannot read', () => {
    expect(untilText(Number.NaN, AT)).toBe('now');
  });
});

describe('problemText', () => {
  it('says the cause and when the port is tried again', () => {
    expect(problemText(status(inUse, { at: new Date(AT).toISOString(), onAddressChange: false }), AT - 8_000)).toBe(
      '127.0.0.1:8080 is already in use by another program; trying again in 8 s',
    );
  });

  it('says an address change is tried at once, where the OS tells Berth', () => {
    expect(problemText(status(noAddress, { at: new Date(AT).toISOString(), onAddressChange: true }), AT - 30_000)).toBe(
      "10.88.0.1 is not an address of this machine; trying again as soon as this machine's addresses change, or in 30 s",
    );
    expect(problemText(status(noAddress, { at: new Date(AT).toISOString(), onAddressChange: false }), AT - 30_000)).toBe(
      '10.88.0.1 is not an address of this machine; trying again in 30 s',
    );
  });

  it('says "now" once the time has come', () => {
    expect(problemText(status(noAddress, { at: new Date(AT).toISOString(), onAddressChange: true }), AT + 5)).toBe(
      '10.88.0.1 is not an address of this machine; trying again now',
    );
  });

  it('is the message alone without a retry (waiting for the helper, or an error), and nothing without an error', () => {
    const locked = { code: 'LOCKED', message: '127.0.0.1:3000 is not allowed by Example Corp policy v3' };
    expect(problemText(status(locked, null), AT)).toBe(locked.message);
    expect(problemText(status(null, null), AT)).toBeNull();
  });
});

describe('mappingStateLabel', () => {
  const acme = { organization: 'Example Corp', portMappingLockedOff: true };
  const none = { organization: null, portMappingLockedOff: false };
  const locked = { code: 'LOCKED', message: '127.0.0.1:3000 is not allowed by Example Corp policy v3' };
  const helper = { code: 'HELPER_NEEDED', message: 'port 443 needs the privileged helper' };

  it('says which organization blocks a port, instead of "Waiting" or "Error"', () => {
    expect(mappingStateLabel({ state: 'error', error: locked }, acme)).toBe('Blocked by Example Corp');
    expect(mappingStateLabel({ state: 'waiting', error: helper }, acme)).toBe('Blocked by Example Corp');
    expect(blockedBy({ state: 'waiting', error: helper }, acme)).toBe('Example Corp');
  });

  it('waits for the helper while the setting is the user\'s to change', () => {
    expect(mappingStateLabel({ state: 'waiting', error: helper }, none)).toBe('Waiting');
    expect(mappingStateLabel({ state: 'waiting', error: inUse }, acme)).toBe('Waiting');
    expect(mappingStateLabel({ state: 'listening', error: null }, acme)).toBe('Listening');
    expect(blockedBy({ state: 'listening', error: null }, acme)).toBeNull();
  });
});
