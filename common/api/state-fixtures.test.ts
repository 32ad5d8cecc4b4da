import { describe, expect, it } from 'vitest';
import { backendState } from './backend-api';
import { FIXTURES } from './state-fixtures';

// The preview and the renderer's tests lean on these snapshots: each must be a
// state the backend could really send, or the preview would show a lie.
describe('fixture snapshots', () => {
  it.each(Object.keys(FIXTURES) as Array<keyof typeof FIXTURES>)('%s passes backendState', (name) => {
    const state = FIXTURES[name]();
    expect(backendState.parse(state)).toEqual(state);
  });

  it('cover the states the views must draw', () => {
    const helperStates = new Set(Object.values(FIXTURES).map((f) => f().capabilities.helper.state));
    expect([...helperStates].sort()).toEqual(['needs-update', 'not-enrolled', 'not-installed', 'running', 'user-mode']);
    expect(FIXTURES.running().ports).toHaveLength(2);
    expect(FIXTURES['first-run']().settings.consent).toBe('undecided');
    expect(FIXTURES.locked().locked).toEqual({ privilegedPortMapping: false, cliToolsLocation: 'user' });
  });

  it('are fresh copies, so one test cannot change another', () => {
    const a = FIXTURES.running();
    a.ports.pop();
    expect(FIXTURES.running().ports).toHaveLength(2);
  });
});
