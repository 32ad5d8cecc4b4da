import { describe, expect, it } from 'vitest';
import { firstRunState, limitedState, notEnrolledState, runningState, troubleState, userModeState } from '../../common/api/state-fixtures';
import { PKEXEC_NOT_AUTHORIZED, type ElevationOutcome } from '../install/elevate';
import { promptNotice, settingNotices } from './backend-notices';
import { NoticeSet } from './notices';

const notInstalled = { state: 'not-installed' as const, version: null };
const running = { state: 'running' as const, version: runningState().capabilities.helper.version };

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
    const notice = promptNotice('install', outcome, notInstalled)!;
    expect(notice.key).toBe('helper.install');
    expect(notice.text).toMatch(/^[A-Z][^\n]*\.$/);
    expect(notice.text).not.toMatch(/\.\s/);
    expect(notice.text).not.toContain('Error executing command');
    expect(notice.detail ?? '').not.toContain('\n');
    expect(notice.detail ?? '').not.toContain('This incident has been reported');
  });

  it('offers "Try again" only where trying again can work (not for a refused account or a missing agent)', () => {
    expect(promptNotice('install', { kind: 'cancelled' }, notInstalled)!.fix).toEqual({ label: 'Try again', method: 'helper.install' });
    expect(promptNotice('install', { kind: 'not-authorized' }, notInstalled)!.fix).toBeNull();
    expect(promptNotice('install', { kind: 'no-agent' }, notInstalled)!.fix).toBeNull();
    expect(promptNotice('uninstall', { kind: 'cancelled' }, running)!.fix).toBeNull();
  });

  it('nothing for an approved prompt, nor for one that was never shown (the reply says why)', () => {
    expect(promptNotice('install', { kind: 'approved', stdout: '', stderr: '' }, running)).toBeUndefined();
    expect(promptNotice('uninstall', { kind: 'approved', stdout: '', stderr: '' }, notInstalled)).toBeUndefined();
    expect(promptNotice('install', { kind: 'unsafe-location', warning: 'Others can change /home/u/Berth.' }, notInstalled)).toBeUndefined();
  });

  it('a failed install is true while the helper stays as the prompt left it: an administrator’s install, of any build, or user mode makes it old news', () => {
    const notice = promptNotice('install', { kind: 'not-authorized' }, notInstalled)!;
    expect(shown(notice, limitedState())).toEqual(['helper.install']);
    expect(shown(notice, runningState())).toEqual([]);
    expect(shown(notice, troubleState())).toEqual([]); // installed, another build: "needs update"
    expect(shown(notice, userModeState())).toEqual([]);
  });

  it('a failed uninstall is true while the helper still runs; "stays for the others" while this account is not enrolled', () => {
    const failed = promptNotice('uninstall', { kind: 'cancelled' }, running)!;
    expect(shown(failed, runningState())).toEqual(['helper.uninstall']);
    expect(shown(failed, firstRunState())).toEqual([]);
    const left = promptNotice('uninstall', { kind: 'approved', stdout: '', stderr: '' }, { state: 'not-enrolled', version: null })!;
    expect(left).toMatchObject({ key: 'helper.uninstall', level: 'info', text: 'The helper no longer serves your account; it stays installed for the other accounts on this computer.' });
    expect(shown(left, notEnrolledState())).toEqual(['helper.uninstall']);
    expect(shown(left, runningState())).toEqual([]);
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
