import type { BackendState } from '../../common/api/backend-api';
import { helperUpdateKey } from '../../common/api/capabilities';

/**
 * Whether the app should open its window by itself at start: only for a
 * question the user has not answered yet — the first-run consent, or an
 * update to a newer bundled helper, asked once per version. Never otherwise:
 * no prompt at every start.
 */
export function needsUserAnswer(state: Pick<BackendState, 'capabilities' | 'settings'>): 'consent' | 'update' | null {
  const { helper } = state.capabilities;
  if (helper.state === 'user-mode' || helper.state === 'running') return null;
  if (helper.state === 'needs-update') return state.settings.helperUpdateAskedFor === helperUpdateKey(helper) ? null : 'update';
  return state.settings.consent === 'undecided' ? 'consent' : null;
}
