import type { MappingStatus } from '../../common/ports/mapping';
import { problemText } from '../../common/ports/waiting';
import { asSentence } from './format';

/** The line under a port that is not listening: what is wrong, and, while it waits, when it tries again. */
export interface PortProblem {
  text: string;
  /** Waiting clears up by itself (helper back, port freed, address up); an error needs the user. */
  tone: 'warning' | 'error';
  /** Shown with an error (for a search or a bug report); a waiting row says it in words only. */
  code: string | null;
}

export function portProblem(mapping: Pick<MappingStatus, 'state' | 'error' | 'retry'>, nowMs: number): PortProblem | null {
  const text = problemText(mapping, nowMs);
  if (text === null || mapping.error === null) return null;
  const waiting = mapping.state === 'waiting';
  return { text: asSentence(text), tone: waiting ? 'warning' : 'error', code: waiting ? null : mapping.error.code };
}
