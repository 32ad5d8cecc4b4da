import type { ReactNode } from 'react';
import { CloseIcon } from './icons';

export type BannerTone = 'info' | 'warning' | 'error' | 'success';

/**
 * A message strip. Errors are announced at once (role alert); the rest
 * politely (role status). Dismissible when given onDismiss.
 */
export function Banner(props: {
  tone: BannerTone;
  title?: ReactNode;
  children?: ReactNode;
  onDismiss?: () => void;
  dismissLabel?: string;
  dismissDisabled?: boolean;
  /** Inside a live region that already announces it, a banner needs no role of its own. */
  announce?: boolean;
}) {
  const { tone, title, children, onDismiss, dismissLabel = 'Dismiss', dismissDisabled = false, announce = true } = props;
  const role = !announce ? undefined : tone === 'error' ? 'alert' : 'status';
  return (
    <div className={`banner banner-${tone}`} role={role}>
      <div className="banner-body">
        {title !== undefined && <p className="banner-title">{title}</p>}
        {children !== undefined && <div className="banner-text">{children}</div>}
      </div>
      {onDismiss !== undefined && (
        <button type="button" className="icon-button" aria-label={dismissLabel} title={dismissLabel} onClick={onDismiss} disabled={dismissDisabled}>
          <CloseIcon />
        </button>
      )}
    </div>
  );
}
