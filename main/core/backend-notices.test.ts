import { describe, expect, it } from 'vitest';
import { firstRunState, limitedState, notEnrolledState, runningState, userModeState } from '../../common/api/state-fixtures';
import { PKEXEC_NOT_AUTHORIZED, type ElevationOutcome } from '../install/elevate';
import { promptNotice, settingNotices, stillServesOthers } from './backend-notices';
import { NoticeSet } from './notices';

const shown = (spec: Parameters<NoticeSet['raise']>[0], state = firstRunState()): string[] => {
  const set = new NoticeSet();
  set.raise(spec);
  return set.current(state).map((n) => n.key);
};

describe('prompt notices', () => {
  const refusals: ElevationOutcome[] = [
    { kind: 'cancelled' },
    { kind: 'not-authorized' },
    { kind: 'no-agent' },
    { kind: 'unavailable', detail: 'Error getting authority: Error initializing authority: Could not connect\nmore' },
    { kind: 'failed', exitCode: 127, stdout: 'x', stderr: PKEXEC_NOT_AUTHORIZED },
    { kind: 'untrusted-helper', detail: 'not signed by team ABC' },
  ];

  it.each(refusals)('$kind: one sentence, at most one line of detail, and no pkexec page', (outcome) => {
    const notice = promptNotice('install', outcome)!;
    expect(notice.key).toBe('helper.install');
    expect(notice.text).toMatch(/^[A-Z][^\n]*\.$/);
    expect(notice.text).not.toMatch(/\.\s/);
    expect(notice.text).not.toContain('Error executing command');
    expect(notice.detail ?? '').not.toContain('\n');
    expect(notice.detail ?? '').not.toContain('This incident has been reported');
  });

  it('offers "Try again" only where trying again can work (not for a refused account or a missing agent)', () => {
    expect(promptNotice('install', { kind: 'cancelled' })!.fix).toEqual({ label: 'Try again', method: 'helper.install' });
    expect(promptNotice('install', { kind: 'not-authorized' })!.fix).toBeNull();
    expect(promptNotice('install', { kind: 'no-agent' })!.fix).toBeNull();
    expect(promptNotice('uninstall', { kind: 'cancelled' })!.fix).toBeNull();
  });

  it('nothing for an approved prompt, nor for one that was never shown (the reply says why)', () => {
    expect(promptNotice('install', { kind: 'approved', stdout: '', stderr: '' })).toBeUndefined();
    expect(promptNotice('install', { kind: 'unsafe-location', warning: 'Others can change /home/u/Berth.' })).toBeUndefined();
  });

  it('a failed install is true until the helper runs (an administrator installed it meanwhile) or user mode is set up', () => {
    const notice = promptNotice('install', { kind: 'not-authorized' })!;
    expect(shown(notice, limitedState())).toEqual(['helper.install']);
    expect(shown(notice, runningState())).toEqual([]);
    expect(shown(notice, userModeState())).toEqual([]);
  });

  it('a failed uninstall is true while the helper is installed; "still serves the others" while this account is not enrolled', () => {
    const failed = promptNotice('uninstall', { kind: 'cancelled' })!;
    expect(shown(failed, runningState())).toEqual(['helper.uninstall']);
    expect(shown(failed, firstRunState())).toEqual([]);
    expect(shown(stillServesOthers(), notEnrolledState())).toEqual(['helper.uninstall']);
    expect(shown(stillServesOthers(), runningState())).toEqual([]);
  });
});

describe('setting notices', () => {
  it('one per setting: a refused CLI location wins over the same setting’s smaller problems', () => {
    const notices = settingNotices({
      problems: [
        { setting: 'cliToolsLocation', text: 'The CLI tools could not be linked into /home/u/.berth/bin.', detail: 'EACCES' },
        { setting: 'cliToolsLocation', text: 'The old CLI links in /home/u/.berth/bin could not be removed.', detail: 'EPERM' },
        { setting: 'hostsEntries', text: 'The hosts entries could not be changed.', detail: 'read-only\nfile system' },
      ],
      refused: { cliToolsLocation: 'user', reason: 'Your CLI tools stay in /home/u/.berth/bin, because the helper did not link them.' },
    });
    expect(notices.map((n) => [n.key, n.level])).toEqual([
      ['setting.cliToolsLocation', 'error'],
      ['setting.hostsEntries', 'warning'],
    ]);
    expect(notices[1]!.fix).toEqual({ label: 'Open Settings', method: 'app.openSettings' });
  });

  it('a setting that waits for the helper is no longer told once the helper runs', () => {
    const [notice] = settingNotices({
      problems: [{ setting: 'hostsEntries', text: 'Hosts entries saved as on, but the privileged helper is not running.', needsHelper: true }],
    });
    expect(shown(notice!, limitedState())).toEqual(['setting.hostsEntries']);
    expect(shown(notice!, runningState())).toEqual([]);
  });
});
