import type { MappingStatus } from '../../common/ports/mapping';
import { blockedBy, mappingStateLabel, problemText, type PolicyView } from '../../common/ports/waiting';
import { asSentence } from './format';

type Row = Pick<MappingStatus, 'state' | 'error' | 'retry'>;

/** The line under a port that is not listening: what is wrong, and, while it waits, when it tries again. */
export interface PortProblem {
  text: string;
  /**
   * Waiting clears up by itself (helper back, port freed, address up); an
   * error needs the user; a port the organization's policy blocks stays
   * blocked until the policy changes, so it reads as an error too.
   */
  tone: 'warning' | 'error';
}

export function portProblem(mapping: Row, nowMs: number, policy: PolicyView): PortProblem | null {
  const text = problemText(mapping, nowMs);
  if (text === null || mapping.error === null) return null;
  const waiting = mapping.state === 'waiting' && blockedBy(mapping, policy) === null;
  return { text: asSentence(text), tone: waiting ? 'warning' : 'error' };
}

/** The word beside the port ("Listening", "Waiting", "Blocked by Acme Corp") and the tone of its dot. */
export function portState(mapping: Row, policy: PolicyView): { label: string; tone: 'neutral' | 'ok' | 'warning' | 'error' } {
  const label = mappingStateLabel(mapping, policy);
  if (blockedBy(mapping, policy) !== null) return { label, tone: 'error' };
  const tone = { starting: 'neutral', listening: 'ok', waiting: 'warning', error: 'error' } as const;
  return { label, tone: tone[mapping.state] };
}
