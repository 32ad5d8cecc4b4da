import { describe, expect, it } from 'vitest';
import { programForName, unknownNameMessage } from './program';

describe('which program the single executable runs, by its file name', () => {
  it('runs the helper under the helper names the installer and the package use', () => {
    expect(programForName('berth-helper')).toBe('helper');
  });

  it('runs the CLI as berth', () => {
    expect(programForName('berth')).toBe('cli');
  });

  it.each(['node', 'berth2', 'Berth', 'berth.exe', 'helper', 'xberth-helper', ''])('refuses the name "%s"', (name) => {
    expect(programForName(name)).toBeUndefined();
  });

  it('says which names it answers to', () => {
    expect(unknownNameMessage('berth2')).toBe('berth2: this is Berth\'s single executable; run it as "berth" (the CLI) or "berth-helper" (the helper)\n');
  });
});
