import { describe, expect, it } from 'vitest';
import { asSentence } from './format';

describe('asSentence', () => {
  it.each([
    ['port 443 needs the privileged helper: choose a port from 1024 up', 'Port 443 needs the privileged helper: choose a port from 1024 up.'],
    ['192.168.1.20 is not an address of this machine.', '192.168.1.20 is not an address of this machine.'],
    ['  the helper is busy; try again?  ', 'The helper is busy; try again?'],
    ['', ''],
  ])('%j → %j', (text, sentence) => {
    expect(asSentence(text)).toBe(sentence);
  });
});
