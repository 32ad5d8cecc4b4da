import { useActions, useBerth } from '../state/context';
import { Banner } from './Banner';

const WAITING_FOR = { install: 'install the helper', uninstall: 'uninstall the helper' } as const;

const OUTCOME_TITLE = {
  cancelled: 'The password prompt was cancelled',
  'not-authorized': 'The system refused the request',
  'no-agent': 'No password prompt could be shown',
  unavailable: 'No password prompt is available here',
  failed: 'The helper could not be set up',
  'unsafe-location': 'Berth did not ask for your password',
  'untrusted-helper': 'Berth did not ask for your password',
} as const;

/**
 * "Waiting for your password…" while the OS prompt is open, and afterwards a
 * prompt that did not end in approval, with the backend's message. Nothing is
 * retried on its own: the user decides what happens next.
 */
export function PromptStatus() {
  const prompt = useBerth((s) => s.backend?.prompt ?? null);
  const result = useBerth((s) => s.promptResult);
  const consent = useBerth((s) => s.backend?.settings.consent);
  const { dismissPrompt } = useActions();
  return (
    <div role="status" className="stack-tight live-slot">
      {prompt !== null && (
        <Banner
          tone="info"
          title={
            <>
              <span className="spinner" aria-hidden="true" /> Waiting for your password…
            </>
          }
          announce={false}
        >
          Berth asked your system for permission to {WAITING_FOR[prompt]}. Answer the password dialog to go on.
        </Banner>
      )}
      {prompt === null && result !== null && result.outcome.kind !== 'approved' && (
        <Banner tone="warning" title={OUTCOME_TITLE[result.outcome.kind]} onDismiss={dismissPrompt} dismissLabel="Dismiss message" announce={false}>
          <p>{result.outcome.message}</p>
          {result.action === 'install' && consent === 'limited' && (
            <p>Berth runs in limited mode. You can install the helper later from Settings.</p>
          )}
        </Banner>
      )}
    </div>
  );
}
