import { useActions, useBerth } from '../state/context';
import { Banner } from './Banner';

const WAITING_FOR = { install: 'install the helper', uninstall: 'uninstall the helper' } as const;

/**
 * "Waiting for your password…" while the OS prompt is open. How a prompt
 * ended is the backend's notice (shown once, for every window, and gone once
 * it is no longer true), except when no prompt was shown at all because the
 * helper's folder is unsafe: that reply is shown here. Nothing is retried on
 * its own: the user decides what happens next.
 */
export function PromptStatus() {
  const prompt = useBerth((s) => s.backend?.prompt ?? null);
  const result = useBerth((s) => s.promptResult);
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
      {prompt === null && result !== null && result.outcome.kind === 'unsafe-location' && (
        <Banner tone="warning" title="Berth did not ask for your password" onDismiss={dismissPrompt} dismissLabel="Dismiss message" announce={false}>
          <p>{result.outcome.message}</p>
        </Banner>
      )}
    </div>
  );
}
