import { useBerth } from '../state/context';
import { Banner } from './Banner';

/** Shown while the state stream is down: what is on screen may be stale until it is back. */
export function ConnectionBanner() {
  const connection = useBerth((s) => s.connection);
  if (connection.status === 'reconnecting') {
    return (
      <Banner tone="warning" title="Reconnecting to Berth…" announce={false}>
        {connection.detail ?? 'The connection dropped; what you see may be out of date.'}
      </Banner>
    );
  }
  if (connection.status === 'failed') {
    return <Banner tone="error" title="Not connected to Berth" announce={false}>{connection.detail ?? 'The connection to Berth failed.'}</Banner>;
  }
  return null;
}
