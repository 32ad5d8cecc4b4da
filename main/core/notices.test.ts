import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Notice } from '../../common/api/backend-api';
import { firstRunState, runningState } from '../../common/api/state-fixtures';
import { MAX_DETAIL, MAX_NOTICES, NoticeSet, type NoticeContext } from './notices';

const running: NoticeContext = runningState();
const notRunning: NoticeContext = firstRunState();
const helperDown = (state: NoticeContext): boolean => state.capabilities.helper.state !== 'running';

type Op =
  | { op: 'raise'; key: string; text: string; conditional: boolean }
  | { op: 'dismiss'; key: string }
  | { op: 'clear'; key: string }
  | { op: 'state'; running: boolean };

const KEYS = ['helper.install', 'helper.uninstall', 'setting.hostsEntries', 'setting.cliToolsLocation', 'file.settings', 'a', 'b', 'c', 'd', 'e', 'f'];
const TEXTS = ['The prompt was cancelled.', 'The helper is not running.', 'Hosts  entries\nfailed.', 'Hosts entries failed.', 'One.', 'Two.'];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('raise' as const), key: fc.constantFrom(...KEYS), text: fc.constantFrom(...TEXTS), conditional: fc.boolean() }),
  fc.record({ op: fc.constant('dismiss' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ op: fc.constant('clear' as const), key: fc.constantFrom('helper', 'setting', 'a', 'setting.hostsEntries') }),
  fc.record({ op: fc.constant('state' as const), running: fc.boolean() }),
);

describe('NoticeSet', () => {
  it('never shows two notices with the same key or the same words, nor more than its bound, whatever is raised', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const set = new NoticeSet();
        let state = notRunning;
        for (const step of ops) {
          if (step.op === 'raise') set.raise({ key: step.key, level: 'warning', text: step.text, ...(step.conditional ? { holds: helperDown } : {}) });
          else if (step.op === 'dismiss') set.dismiss(step.key);
          else if (step.op === 'clear') set.clear(step.key);
          else state = step.running ? running : notRunning;
          const shown = set.current(state);
          expect(new Set(shown.map((n) => n.key)).size).toBe(shown.length);
          expect(new Set(shown.map((n) => n.text)).size).toBe(shown.length);
          expect(shown.length).toBeLessThanOrEqual(MAX_NOTICES);
          for (const notice of shown) expect(notice.text).not.toMatch(/\n| {2}/);
        }
      }),
    );
  });

  it('shows what was raised last for a key until it is dismissed, cleared or no longer true (a model of it)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const set = new NoticeSet();
        // The model: key -> [text, conditional], in the order raised.
        const model = new Map<string, { text: string; conditional: boolean }>();
        let state = notRunning;
        const fold = (text: string): string => text.replace(/\s+/g, ' ').trim();
        for (const step of ops) {
          if (step.op === 'raise') {
            model.delete(step.key);
            for (const [key, entry] of model) if (entry.text === fold(step.text)) model.delete(key);
            model.set(step.key, { text: fold(step.text), conditional: step.conditional });
            while (model.size > MAX_NOTICES) model.delete(model.keys().next().value!);
            set.raise({ key: step.key, level: 'info', text: step.text, ...(step.conditional ? { holds: helperDown } : {}) });
          } else if (step.op === 'dismiss') {
            model.delete(step.key);
            set.dismiss(step.key);
          } else if (step.op === 'clear') {
            for (const key of [...model.keys()]) if (key === step.key || key.startsWith(`${step.key}.`)) model.delete(key);
            set.clear(step.key);
          } else {
            state = step.running ? running : notRunning;
          }
          // Once false, gone for good: the model drops it as the set does.
          if (state === running) for (const [key, entry] of [...model]) if (entry.conditional) model.delete(key);
          expect(set.current(state).map((n) => [n.key, n.text])).toEqual([...model].map(([key, entry]) => [key, entry.text]));
        }
      }),
    );
  });

  it('drops a notice at the first state where it is no longer true, and it does not come back when it would be true again', () => {
    const set = new NoticeSet();
    set.raise({ key: 'helper.install', level: 'warning', text: 'The administrator prompt was cancelled, so nothing was changed; try again when you are ready.', holds: helperDown });
    set.raise({ key: 'file.settings', level: 'warning', text: 'Your settings file was unreadable.' });
    expect(set.current(notRunning).map((n) => n.key)).toEqual(['helper.install', 'file.settings']);
    expect(set.current(running).map((n) => n.key)).toEqual(['file.settings']);
    expect(set.current(notRunning).map((n) => n.key)).toEqual(['file.settings']);
  });

  it('the same situation raised twice is one notice, the newer; the same words under another key are one notice too', () => {
    const set = new NoticeSet();
    const text = 'CLI tools location saved as System, but the privileged helper is not running; it will apply when the helper is installed.';
    set.raise({ key: 'setting.cliToolsLocation', level: 'warning', text });
    set.raise({ key: 'setting.cliToolsLocation', level: 'warning', text });
    expect(set.current(notRunning)).toHaveLength(1);
    set.raise({ key: 'setting.cliToolsLocation', level: 'error', text: 'Your CLI tools stay in ~/.berth/bin.' });
    expect(set.current(notRunning)).toEqual<Notice[]>([
      { key: 'setting.cliToolsLocation', level: 'error', text: 'Your CLI tools stay in ~/.berth/bin.', detail: null, fix: null },
    ]);
    set.raise({ key: 'other', level: 'warning', text: 'Your CLI tools stay in ~/.berth/bin.' });
    expect(set.current(notRunning).map((n) => n.key)).toEqual(['other']);
  });

  it('keeps one line of detail: the first non-empty one, cut with an ellipsis when long', () => {
    const set = new NoticeSet();
    const raw = '\n  Error executing command as another user: Not authorized\n\nThis incident has been reported.\n';
    set.raise({ key: 'a', level: 'warning', text: 'One sentence.', detail: raw });
    set.raise({ key: 'b', level: 'warning', text: 'Another sentence.', detail: 'x'.repeat(500) });
    set.raise({ key: 'c', level: 'warning', text: 'A third sentence.', detail: ' \n ' });
    const [a, b, c] = set.current(notRunning);
    expect(a!.detail).toBe('Error executing command as another user: Not authorized');
    expect(b!.detail).toHaveLength(MAX_DETAIL);
    expect(b!.detail!.endsWith('…')).toBe(true);
    expect(c!.detail).toBeNull();
  });

  it('clear() takes a key and the keys under it, not a key that merely starts alike; dismiss() takes one', () => {
    const set = new NoticeSet();
    for (const key of ['helper', 'helper.install', 'helper.uninstall', 'helpers']) set.raise({ key, level: 'info', text: `About ${key}.` });
    expect(set.dismiss('nothing-here')).toBe(false);
    expect(set.clear('helper')).toBe(true);
    expect(set.current(notRunning).map((n) => n.key)).toEqual(['helpers']);
    expect(set.clear('helper')).toBe(false);
    expect(set.dismiss('helpers')).toBe(true);
    expect(set.current(notRunning)).toEqual([]);
  });

  it('replace() is clear() of those keys, then raise() of what is given (nothing given: only the clearing)', () => {
    const set = new NoticeSet();
    set.raise({ key: 'setting.hostsEntries', level: 'warning', text: 'Hosts entries failed.' });
    set.raise({ key: 'setting.cliToolsLocation', level: 'warning', text: 'CLI links failed.' });
    set.raise({ key: 'helper.install', level: 'warning', text: 'Cancelled.' });
    set.replace(['setting.hostsEntries', 'setting.cliToolsLocation'], [{ key: 'setting.cliToolsLocation', level: 'error', text: 'Refused.' }, undefined]);
    expect(set.current(notRunning).map((n) => [n.key, n.text])).toEqual([
      ['helper.install', 'Cancelled.'],
      ['setting.cliToolsLocation', 'Refused.'],
    ]);
    set.replace(['helper'], [undefined]);
    expect(set.current(notRunning).map((n) => n.key)).toEqual(['setting.cliToolsLocation']);
  });

  it('tells its listener about each raised notice (the backend logs them)', () => {
    const heard: string[] = [];
    const set = new NoticeSet((notice) => heard.push(notice.text));
    set.raise({ key: 'a', level: 'error', text: 'It\nbroke.' });
    expect(heard).toEqual(['It broke.']);
  });
});
