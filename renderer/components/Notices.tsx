import { useActions, useBerth } from '../state/context';
import { noticeKey } from '../state/store';
import { Banner, type BannerTone } from './Banner';
import { ActionErrorText } from './ActionErrorText';

const TONE = { info: 'info', warning: 'warning', error: 'error' } as const satisfies Record<string, BannerTone>;

/** The backend's notices, each dismissible (the backend forgets it then, for every window). */
export function Notices() {
  const notices = useBerth((s) => s.backend?.notices);
  const pending = useBerth((s) => s.pending);
  const errors = useBerth((s) => s.errors);
  const { dismissNotice } = useActions();
  if (notices === undefined || notices.length === 0) return null;
  return (
    <section className="stack-tight" aria-label="Notices">
      {notices.map((notice) => (
        <div key={notice.id}>
          <Banner
            tone={TONE[notice.level]}
            onDismiss={() => void dismissNotice(notice.id)}
            dismissLabel="Dismiss notice"
            dismissDisabled={pending[noticeKey(notice.id)] === true}
          >
            {notice.text}
          </Banner>
          <ActionErrorText error={errors[noticeKey(notice.id)]} />
        </div>
      ))}
    </section>
  );
}
