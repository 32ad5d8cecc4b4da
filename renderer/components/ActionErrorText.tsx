import { asSentence, ERROR_TITLE } from '../logic/format';
import type { ActionError } from '../state/reducers';

/**
 * A failed call, next to the control that made it: a title for what kind of
 * failure it is and the backend's sentence. The code itself stays out of sight
 * (it is for scripts: the CLI's --json output and the logs carry it).
 */
export function ActionErrorText({ error, id }: { error: ActionError | undefined; id?: string }) {
  if (error === undefined) return null;
  return (
    <div className="action-error" role="alert" id={id}>
      <p>
        <strong>{ERROR_TITLE[error.code]}:</strong> {asSentence(error.message)}
      </p>
    </div>
  );
}
