import { ERROR_TITLE } from '../logic/format';
import type { ActionError } from '../state/reducers';

/** A failed call, next to the control that made it: a title for the code, the backend's sentence, the code itself. */
export function ActionErrorText({ error, id }: { error: ActionError | undefined; id?: string }) {
  if (error === undefined) return null;
  return (
    <div className="action-error" role="alert" id={id}>
      <p>
        <strong>{ERROR_TITLE[error.code]}:</strong> {error.message}
      </p>
      <code className="error-code">{error.code}</code>
    </div>
  );
}
