import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { MappingStatus } from '../../common/ports/mapping';
import { formatListen } from '../../common/ports/parse';
import { ActionErrorText } from '../components/ActionErrorText';
import { Banner } from '../components/Banner';
import { ArrowIcon, PlusIcon, TrashIcon } from '../components/icons';
import { policyView } from '../../common/ports/waiting';
import { asSentence, formatBytes, hostPort } from '../logic/format';
import { portProblem, portState } from '../logic/port-row';
import { checkDraft, draftProtocol, PORT_FIELDS, privilegedAdvice, typedPort, type PortField } from '../logic/port-form';
import { useOpenSettings } from '../navigation';
import { useActions, useBerth } from '../state/context';
import { ADD_PORT_KEY, visibleFields } from '../state/reducers';
import { removeKey } from '../state/store';

/** Date.now(), read again every second while `ticking` (a countdown is on screen) and whenever `key` changes. */
function useNow(ticking: boolean, key: unknown): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!ticking) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking, key]);
  return now;
}

/** Read aloud, not shown: a screen reader hears one sentence where the eye sees spaced parts. */
const Comma = () => <span className="visually-hidden">, </span>;

function PortRow({ mapping }: { mapping: MappingStatus }) {
  const pending = useBerth((s) => s.pending[removeKey(mapping.spec)] === true);
  const error = useBerth((s) => s.errors[removeKey(mapping.spec)]);
  const backend = useBerth((s) => s.backend);
  const { removePort } = useActions();
  // `127.0.0.1:53/udp` for UDP, as the CLI names it.
  const listen = formatListen(mapping.spec);
  const target = hostPort(mapping.spec.target.host, mapping.spec.target.port);
  const { active, total, failed } = mapping.connections;
  const now = useNow(mapping.retry !== null, mapping.retry?.at);
  const shownPolicy = backend === null ? { organization: null, portMappingLockedOff: false } : policyView(backend);
  const problem = portProblem(mapping, now, shownPolicy);
  const state = portState(mapping, shownPolicy);
  return (
    <li className="port-row">
      <span className={`status-dot dot-${state.tone}`} aria-hidden="true" />
      <div className="port-main">
        <p className="port-route">
          <span className="mono">{listen}</span>
          <ArrowIcon className="route-arrow" />
          <span className="visually-hidden"> forwards to </span>
          <span className="mono">{target}</span>
        </p>
        <p className="port-meta">
          <span className={`state-label state-${state.tone}`} aria-live="polite">
            {state.label}
          </span>
          {mapping.via !== null && (
            <span>
              <Comma />
              via {mapping.via}
            </span>
          )}
          <span>
            <Comma />
            {`${active} active · ${total} total${failed > 0 ? ` · ${failed} failed` : ''}`}
          </span>
          <span>
            <Comma />
            {`${formatBytes(mapping.bytes.in)} in · ${formatBytes(mapping.bytes.out)} out`}
          </span>
        </p>
        {problem !== null && (
          // Waiting clears up by itself (helper back, port freed, address up), and says when it tries next; an error needs the user.
          <p className={`port-problem ${problem.tone}-text`}>
            {problem.text}
          </p>
        )}
        {mapping.acceptError !== null && <p className="port-problem warning-text">{asSentence(mapping.acceptError)}</p>}
        {mapping.lastTargetError !== null && <p className="port-problem warning-text">Last connection to the target failed: {mapping.lastTargetError}</p>}
        <ActionErrorText error={error} />
      </div>
      <button
        type="button"
        className="icon-button danger"
        aria-label={`Remove ${listen}`}
        title={`Remove ${listen}`}
        disabled={pending}
        onClick={() => void removePort(mapping.spec)}
      >
        <TrashIcon />
      </button>
    </li>
  );
}

const LABELS: Record<PortField, string> = { address: 'Address', port: 'Port', targetHost: 'Target host', targetPort: 'Target port' };
const HIDDEN_PREFIX: Partial<Record<PortField, string>> = { address: 'Listen ', port: 'Listen ' };
const HINTS: Partial<Record<PortField, string>> = { address: '127.0.0.1, 0.0.0.0 or ::1', port: 'For UDP add /udp, e.g. 53/udp' };

function PortForm({ id, onClose }: { id: string; onClose: () => void }) {
  const base = useId();
  const draft = useBerth((s) => s.portDraft);
  const ports = useBerth((s) => s.backend?.ports);
  const backend = useBerth((s) => s.backend);
  const touched = useBerth((s) => s.portTouched);
  const submitted = useBerth((s) => s.portSubmitted);
  const shown = visibleFields(touched, submitted);
  const serverError = useBerth((s) => s.errors[ADD_PORT_KEY]);
  const sending = useBerth((s) => s.pending[ADD_PORT_KEY] === true);
  const { editPortField, addPort } = useActions();
  const openSettings = useOpenSettings();
  const inputs = useRef<Partial<Record<PortField, HTMLInputElement | null>>>({});
  const check = useMemo(() => checkDraft(draft, ports ?? []), [draft, ports]);
  const advice = backend === null ? null : privilegedAdvice(draft.address, typedPort(draft), backend, draftProtocol(draft));

  // Opening the form takes the keyboard to its first field.
  useEffect(() => {
    inputs.current.address?.focus();
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (check.spec === null) {
      // Every error shows now; focus goes to the first field that needs fixing.
      const first = PORT_FIELDS.find((f) => check.errors[f] !== undefined);
      if (first !== undefined) inputs.current[first]?.focus();
    }
    if (await addPort()) onClose();
  }

  const inputId = (name: PortField) => `${base}-${name}`;
  const errorOf = (name: PortField) => (shown.includes(name) ? check.errors[name] : undefined);

  const input = (name: PortField, className: string, inputMode: 'text' | 'numeric') => {
    const error = errorOf(name);
    const fieldId = inputId(name);
    const hinted = HINTS[name] !== undefined || (name === 'port' && check.understood !== undefined);
    const describedBy = [error !== undefined ? `${fieldId}-error` : '', hinted && error === undefined ? `${fieldId}-hint` : '']
      .filter(Boolean)
      .join(' ');
    return (
      <div className={`field ${className}`}>
        <label htmlFor={fieldId}>
          {/* "Listen port" and "Target port": distinct names for assistive tech (and for tests that find fields by name). */}
          {HIDDEN_PREFIX[name] !== undefined && <span className="visually-hidden">{HIDDEN_PREFIX[name]}</span>}
          {LABELS[name]}
        </label>
        <input
          id={fieldId}
          ref={(el) => {
            inputs.current[name] = el;
          }}
          type="text"
          inputMode={inputMode}
          autoComplete="off"
          spellCheck={false}
          value={draft[name]}
          aria-invalid={error !== undefined}
          aria-describedby={describedBy || undefined}
          onChange={(e) => editPortField(name, e.target.value)}
        />
      </div>
    );
  };

  /** A row's hints and errors go under the whole row, so a narrow field's message stays readable. */
  const messages = (names: readonly PortField[]) => (
    <div className="field-messages">
      {names.map((name) => {
        const error = errorOf(name);
        const fieldId = inputId(name);
        if (error !== undefined) {
          return (
            <p key={name} id={`${fieldId}-error`} className="field-error">
              <strong>{LABELS[name]}:</strong> {error}
            </p>
          );
        }
        if (name === 'port' && check.understood !== undefined) {
          // A whole mapping typed into the Port field: say how it was read before it is published.
          return (
            <p key={name} id={`${fieldId}-hint`} className="field-hint" role="status">
              {check.understood}
            </p>
          );
        }
        const hint = HINTS[name];
        return hint === undefined ? null : (
          <p key={name} id={`${fieldId}-hint`} className="field-hint">
            {hint}
          </p>
        );
      })}
    </div>
  );

  const row = (legend: string, a: PortField, b: PortField) => (
    <fieldset>
      <legend>{legend}</legend>
      <div className="field-row">
        {input(a, 'grow', 'text')}
        {input(b, 'narrow', 'numeric')}
      </div>
      {messages([a, b])}
    </fieldset>
  );

  return (
    <form
      id={id}
      className="port-form"
      aria-label="Add a port"
      noValidate
      onSubmit={(e) => void submit(e)}
      onKeyDown={(e) => {
        // Escape closes the form just as Cancel does, and the keyboard goes back to "Add port".
        if (e.key === 'Escape' && !e.defaultPrevented) {
          e.preventDefault();
          onClose();
        }
      }}
    >
      {row('Listen on this machine', 'address', 'port')}
      {row('Forward to', 'targetHost', 'targetPort')}
      {advice !== null && (
        <Banner tone={advice.tone} title="Port below 1024">
          <p>{advice.text}</p>
          {advice.fix === 'settings' && (
            <button type="button" className="button small" onClick={() => void openSettings()}>
              Open Settings
            </button>
          )}
        </Banner>
      )}
      <ActionErrorText error={serverError} />
      <div className="button-row">
        <button type="submit" className="button primary" disabled={sending}>
          {sending ? 'Publishing…' : 'Publish port'}
        </button>
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Published ports: the list with live state, and the add form. */
export function PortsPanel() {
  const headingId = useId();
  const formId = useId();
  const ports = useBerth((s) => s.backend?.ports);
  const open = useBerth((s) => s.portFormOpen);
  const { setPortFormOpen } = useActions();
  const addButton = useRef<HTMLButtonElement>(null);
  if (ports === undefined) return null;
  const close = () => {
    setPortFormOpen(false);
    addButton.current?.focus();
  };
  return (
    <section className="ports" aria-labelledby={headingId}>
      <div className="section-head">
        <h2 id={headingId}>Published ports</h2>
        <button
          ref={addButton}
          type="button"
          className="button small"
          aria-expanded={open}
          aria-controls={open ? formId : undefined}
          onClick={() => (open ? close() : setPortFormOpen(true))}
        >
          <PlusIcon /> Add port
        </button>
      </div>
      {ports.length === 0 ? (
        <p className="empty muted">No published ports yet.</p>
      ) : (
        <ul className="port-list" aria-labelledby={headingId}>
          {ports.map((m) => (
            <PortRow key={m.id} mapping={m} />
          ))}
        </ul>
      )}
      {open && <PortForm id={formId} onClose={close} />}
    </section>
  );
}
