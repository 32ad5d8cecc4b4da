import { describe, expect, test } from 'vitest';
import { BERTH_VERSION } from '../../common/app-version';
import { DEFAULT_SETTINGS, type Settings } from '../../common/settings/schema';
import { sampleReport } from './capabilities/sample-reports';
import { needsUserAnswer } from './attention';

const settings = (over: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, ...over });

describe('needsUserAnswer: the app opens by itself only for an unanswered question', () => {
  test('first run on a machine without the helper: the consent screen', () => {
    expect(needsUserAnswer({ capabilities: sampleReport('not-installed'), settings: settings() })).toBe('consent');
  });

  test('consent answered either way: never again', () => {
    for (const consent of ['install', 'limited'] as const) {
      expect(needsUserAnswer({ capabilities: sampleReport('not-installed'), settings: settings({ consent }) })).toBeNull();
    }
  });

  test('user mode or a running helper: nothing to ask', () => {
    expect(needsUserAnswer({ capabilities: sampleReport('user-mode'), settings: settings() })).toBeNull();
    expect(needsUserAnswer({ capabilities: sampleReport('running'), settings: settings() })).toBeNull();
  });

  test('an older helper: asked once per bundled version', () => {
    const capabilities = sampleReport('needs-update');
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install' }) })).toBe('update');
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install', helperUpdateAskedFor: BERTH_VERSION }) })).toBeNull();
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install', helperUpdateAskedFor: '0.0.9' }) })).toBe('update');
  });

  test('a rebuilt helper with the same version: asked once per build', () => {
    const report = sampleReport('needs-update');
    const capabilities = { ...report, helper: { ...report.helper, version: BERTH_VERSION, bundledBuild: '0123456789ab' } };
    // Declined for the version alone (an older app) or for another build: this build is asked about.
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install', helperUpdateAskedFor: BERTH_VERSION }) })).toBe('update');
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install', helperUpdateAskedFor: `${BERTH_VERSION}+ffffffffffff` }) })).toBe('update');
    expect(needsUserAnswer({ capabilities, settings: settings({ consent: 'install', helperUpdateAskedFor: `${BERTH_VERSION}+0123456789ab` }) })).toBeNull();
  });
});
