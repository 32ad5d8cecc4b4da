import { useState } from 'react';
import type { Notice, NoticeFix } from '../../common/api/backend-api';
import { useOpenSettings } from '../navigation';
import { useActions, useBerth } from '../state/context';
import { noticeKey } from '../state/store';
import { Banner, type BannerTone } from './Banner';
import { ActionErrorText } from './ActionErrorText';

const TONE = { info: 'info', warning: 'warning', error: 'error' } as const satisfies Record<string, BannerTone>;

/** The store command behind a notice's fix, and the pending key it runs under. */
function useFix(fix: NoticeFix | null): { run: () => Promise<unknown>; key: string } | null {
  const actions = useActions();
  const openSettings = useOpenSettings();
  if (fix === null) return null;
  switch (fix.method) {
    case 'helper.install':
      return { run: () => actions.installHelper(), key: 'helper.install' };
    case 'capabilities.refresh':
      return { run: actions.refreshCapabilities, key: 'capabilities.refresh' };
    case 'app.openSettings':
      return { run: openSettings, key: 'app.openSettings' };
  }
}

/**
 * One notice: its sentence in one line (cut with an ellipsis; a click shows
 * all of it), and at most one more line with the system's words and the fix.
 */
function NoticeRow({ notice }: { notice: Notice }) {
  const [open, setOpen] = useState(false);
  const pending = useBerth((s) => s.pending);
  const errors = useBerth((s) => s.errors);
  const prompting = useBerth((s) => s.backend?.prompt != null);
  const { dismissNotice } = useActions();
  const fix = useFix(notice.fix);
  return (
    <li className="notice" data-notice-key={notice.key}>
      <Banner
        tone={TONE[notice.level]}
        onDismiss={() => void dismissNotice(notice.key)}
        dismissLabel="Dismiss notice"
        dismissDisabled={pending[noticeKey(notice.key)] === true}
      >
        <button type="button" className={`notice-text${open ? ' open' : ''}`} aria-expanded={open} title={notice.text} onClick={() => setOpen(!open)}>
          {notice.text}
        </button>
        {(notice.detail !== null || fix !== null) && (
          <div className="notice-line">
            <p className={`notice-detail muted${open ? ' open' : ''}`} title={notice.detail ?? undefined}>
              {notice.detail}
            </p>
            {fix !== null && notice.fix !== null && (
              <button type="button" className="button small notice-fix" disabled={prompting || pending[fix.key] === true} onClick={() => void fix.run()}>
                {notice.fix.label}
              </button>
            )}
          </div>
        )}
      </Banner>
      <ActionErrorText error={errors[noticeKey(notice.key)]} />
    </li>
  );
}

/** The backend's notices, each dismissible (the backend forgets it then, for every window); a bounded strip that scrolls. */
export function Notices() {
  const notices = useBerth((s) => s.backend?.notices);
  if (notices === undefined || notices.length === 0) return null;
  return (
    <section aria-label="Notices">
      <ul className="notices">
        {notices.map((notice) => (
          <NoticeRow key={notice.key} notice={notice} />
        ))}
      </ul>
    </section>
  );
}
