import { ActionErrorText } from '../components/ActionErrorText';
import { summarizeHelper, type HelperAction } from '../../common/helper/summary';
import { useActions, useBerth } from '../state/context';
import type { Actions } from '../state/store';

/** The store command behind each helper action, and the pending key it runs under. */
export function helperCommand(action: HelperAction, actions: Actions): { run: () => Promise<unknown>; key: string } {
  switch (action.kind) {
    case 'install':
    case 'update':
      return { run: actions.installHelper, key: 'helper.install' };
    case 'decline-update':
      return { run: actions.declineUpdate, key: 'helper.declineUpdate' };
    case 'refresh':
      return { run: actions.refreshCapabilities, key: 'capabilities.refresh' };
  }
}

/** The helper at a glance, with the one action that fixes its state. */
export function HelperCard({ headingLevel = 2 }: { headingLevel?: 2 | 3 }) {
  const backend = useBerth((s) => s.backend);
  const pending = useBerth((s) => s.pending);
  const errors = useBerth((s) => s.errors);
  const actions = useActions();
  if (backend === null) return null;
  const summary = summarizeHelper(backend);
  const prompting = backend.prompt !== null;
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  const buttons = [summary.primary, summary.secondary].filter((a): a is HelperAction => a !== null);
  const keys = new Set(buttons.map((a) => helperCommand(a, actions).key));
  return (
    <section className={`card helper-card tone-${summary.tone}`} aria-labelledby="helper-heading">
      <div className="helper-line">
        <span className={`status-dot dot-${summary.tone}`} aria-hidden="true" />
        <div className="helper-text" aria-live="polite">
          <Heading id="helper-heading" className="helper-title">
            {summary.title}
          </Heading>
          <p className="muted">{summary.detail}</p>
          {backend.capabilities.userMode !== null && (
            <ul className="limits muted" aria-label="User mode limits">
              {backend.capabilities.userMode.limits.map((limit) => (
                <li key={limit}>{limit}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
      {buttons.length > 0 && (
        <div className="button-row">
          {buttons.map((action, i) => {
            const command = helperCommand(action, actions);
            return (
              <button
                key={action.kind + action.label}
                type="button"
                className={i === 0 ? 'button primary' : 'button'}
                disabled={prompting || pending[command.key] === true}
                onClick={() => void command.run()}
              >
                {action.label}
              </button>
            );
          })}
        </div>
      )}
      {[...keys].map((key) => (
        <ActionErrorText key={key} error={errors[key]} />
      ))}
    </section>
  );
}
