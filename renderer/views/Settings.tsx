import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { BackendState, SettingChange } from '../../common/api/backend-api';
import type { ToggleKey } from '../../common/settings/schema';
import { ActionErrorText } from '../components/ActionErrorText';
import { Banner } from '../components/Banner';
import { AuditSection } from './AuditSection';
import { lockedValue, PolicySection, TOGGLE_LABEL } from './PolicySection';
import { BackIcon, LockIcon } from '../components/icons';
import { Notices } from '../components/Notices';
import { PromptStatus } from '../components/PromptStatus';
import {
  helperInstalled,
  INSTALL_ANYWAY_LABEL,
  ENROL_LABEL,
  INSTALL_LABEL,
  REINSTALL_LABEL,
  summarizeHelper,
  UNSAFE_LOCATION_TITLE,
  UPDATE_LABEL,
} from '../../common/helper/summary';
import { useActions, useBerth } from '../state/context';
import { shownSetting } from '../state/reducers';
import { settingKey } from '../state/store';

export const UNINSTALL_LABEL = 'Uninstall helper…';
export const CONFIRM_UNINSTALL_LABEL = 'Uninstall helper (asks for your password)';

/** "Locked by Acme": why a control cannot be changed, next to it. */
function LockedNote({ id, settingKey: key, state }: { id: string; settingKey: ToggleKey; state: BackendState }) {
  const value = state.locked[key];
  if (value === undefined) return null;
  const org = state.capabilities.policy.organization ?? 'your organization';
  const version = state.capabilities.policy.version;
  return (
    <p id={id} className="locked-note">
      <LockIcon /> <strong>Locked by {org}</strong>
      <span>
        {' '}
        — its policy{version !== null ? ` (version ${version})` : ''} sets this to {lockedValue(key, value)} for everyone.
      </span>
    </p>
  );
}

function ToggleRow(props: { settingKey: 'privilegedPortMapping' | 'hostsEntries' | 'startAtLogin'; description: string; status?: ReactNode }) {
  const { settingKey: key, description, status } = props;
  const id = useId();
  const state = useBerth((s) => s.backend);
  const pending = useBerth((s) => s.pending[settingKey(key)] === true);
  const error = useBerth((s) => s.errors[settingKey(key)]);
  const checked = useBerth((s) => shownSetting(s, key) === true);
  const { setSetting } = useActions();
  if (state === null) return null;
  const locked = state.locked[key] !== undefined;
  const describedBy = [`${id}-desc`, locked ? `${id}-locked` : ''].filter(Boolean).join(' ');
  return (
    <div className={locked ? 'setting-row locked' : 'setting-row'}>
      <div className="setting-text">
        <label htmlFor={id} className="setting-label">
          {TOGGLE_LABEL[key]}
        </label>
        <p id={`${id}-desc`} className="muted">
          {description}
        </p>
        {status}
        <LockedNote id={`${id}-locked`} settingKey={key} state={state} />
        <ActionErrorText error={error} />
      </div>
      <input
        id={id}
        type="checkbox"
        className="switch"
        checked={checked}
        disabled={locked || pending}
        aria-describedby={describedBy}
        onChange={(e) => void setSetting({ key, value: e.target.checked } as SettingChange)}
      />
    </div>
  );
}

function CliLocationRow() {
  const id = useId();
  const state = useBerth((s) => s.backend);
  const pending = useBerth((s) => s.pending[settingKey('cliToolsLocation')] === true);
  const error = useBerth((s) => s.errors[settingKey('cliToolsLocation')]);
  const current = useBerth((s) => shownSetting(s, 'cliToolsLocation'));
  const { setSetting } = useActions();
  if (state === null) return null;
  const locked = state.locked.cliToolsLocation !== undefined;
  const tools = state.capabilities.cliTools;
  const options = [
    { value: 'system', label: 'System', hint: '/usr/local/bin, linked by the helper; already on your PATH.' },
    { value: 'user', label: 'User', hint: '~/.berth/bin, no password needed; add it to your PATH.' },
  ] as const;
  return (
    <fieldset className={locked ? 'setting-row radio-row locked' : 'setting-row radio-row'} aria-describedby={locked ? `${id}-locked` : undefined}>
      <legend className="setting-label">{TOGGLE_LABEL.cliToolsLocation}</legend>
      <div className="radio-options">
        {options.map((o) => (
          <div key={o.value} className="radio-option">
            <input
              id={`${id}-${o.value}`}
              type="radio"
              name={`${id}-cli`}
              value={o.value}
              checked={current === o.value}
              disabled={locked || pending}
              aria-describedby={`${id}-${o.value}-hint`}
              onChange={() => void setSetting({ key: 'cliToolsLocation', value: o.value })}
            />
            <div>
              <label htmlFor={`${id}-${o.value}`}>{o.label}</label>
              <p id={`${id}-${o.value}-hint`} className="muted">
                {o.hint}
              </p>
            </div>
          </div>
        ))}
      </div>
      <p className="setting-status muted">
        {tools.linked.length > 0 && (
          <>
            Linked in <span className="mono">{tools.dir}</span>: {tools.linked.join(', ')}.{' '}
          </>
        )}
        {tools.missing.length > 0 && (
          <>
            Not linked in <span className="mono">{tools.dir}</span>: {tools.missing.join(', ')}.
          </>
        )}
      </p>
      {tools.unsafe.map((u) => (
        <p key={u.name} className="setting-status warning-text">
          Unsafe link <span className="mono">{u.name}</span>: {u.reason}.
        </p>
      ))}
      <LockedNote id={`${id}-locked`} settingKey="cliToolsLocation" state={state} />
      <ActionErrorText error={error} />
    </fieldset>
  );
}

function GeneralSection() {
  const state = useBerth((s) => s.backend);
  if (state === null) return null;
  const caps = state.capabilities;
  const hosts = caps.hostsEntries;
  const helperUsable = caps.helper.state === 'running' || caps.helper.state === 'needs-update';
  return (
    <section className="settings-section" aria-labelledby="general-heading">
      <h2 id="general-heading">General</h2>
      <div className="card setting-list">
        <ToggleRow
          settingKey="privilegedPortMapping"
          description="Ask the helper for ports below 1024 when the system does not allow them directly. Turning it off closes the ports the helper opened; they come back when you turn it on."
          status={
            caps.userMode !== null ? (
              <p className="setting-status muted">User mode has no helper: ports below 1024 work only where the system allows them.</p>
            ) : !helperUsable && state.settings.privilegedPortMapping ? (
              <p className="setting-status warning-text">Takes effect once the helper runs.</p>
            ) : undefined
          }
        />
        <CliLocationRow />
        <ToggleRow
          settingKey="hostsEntries"
          description="Keep localhost and berth.internal in /etc/hosts. berth.internal is a fixed name for this machine, so links such as http://berth.internal:8080 reach your published ports."
          status={
            <p className={hosts.error !== null ? 'setting-status error-text' : 'setting-status muted'}>
              {hosts.error ?? (hosts.present ? `In /etc/hosts: ${hosts.entries.join(', ')}.` : 'Not in /etc/hosts.')}
            </p>
          }
        />
        {/* Not offered where nothing would carry it out (browser mode on macOS). */}
        {state.startAtLogin.available && <ToggleRow settingKey="startAtLogin" description={state.startAtLogin.description} />}
      </div>
    </section>
  );
}

function UninstallDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const { uninstallHelper } = useActions();
  // The helper section above shows the warning, and this dialog is the explicit confirmation.
  const unsafe = useBerth((s) => s.backend?.capabilities.helper.installWarning != null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="uninstall-title" aria-describedby="uninstall-text" onClose={onClose}>
      <h2 id="uninstall-title">Uninstall the helper?</h2>
      <p id="uninstall-text">
        Berth removes the helper for your account, with its command-line links in /usr/local/bin and its hosts entries. If other accounts
        on this computer use the helper, it stays for them, and so do the links and entries they still use. Ports below 1024 stop working
        until you install it again; your other ports keep working.
      </p>
      <div className="button-row end">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          className="button danger-fill"
          onClick={() => {
            onClose();
            void uninstallHelper(unsafe ? { allowUnsafeLocation: true } : {});
          }}
        >
          {CONFIRM_UNINSTALL_LABEL}
        </button>
      </div>
    </dialog>
  );
}

function HelperSection({ confirming, setConfirming }: { confirming: boolean; setConfirming: (open: boolean) => void }) {
  const state = useBerth((s) => s.backend);
  const pending = useBerth((s) => s.pending);
  const errors = useBerth((s) => s.errors);
  const { installHelper } = useActions();
  if (state === null) return null;
  const helper = state.capabilities.helper;
  const summary = summarizeHelper(state);
  const busy = state.prompt !== null || pending['helper.install'] === true || pending['helper.uninstall'] === true;
  const installed = helperInstalled(state);
  // Someone other than root can change the helper: the warning shows, and only "Install anyway" asks.
  const warning = helper.installWarning;
  const installLabel =
    warning !== null
      ? INSTALL_ANYWAY_LABEL
      : helper.state === 'needs-update'
        ? UPDATE_LABEL
        : helper.state === 'not-enrolled'
          ? ENROL_LABEL
          : installed
            ? REINSTALL_LABEL
            : INSTALL_LABEL;
  return (
    <section className="settings-section" aria-labelledby="helper-section-heading">
      <h2 id="helper-section-heading">Helper</h2>
      <div className={`card tone-${summary.tone}`}>
        <div className="helper-line" aria-live="polite">
          <span className={`status-dot dot-${summary.tone}`} aria-hidden="true" />
          <div>
            <p className="helper-title">{summary.title}</p>
            <p className="muted">{summary.detail}</p>
          </div>
        </div>
        <dl className="facts">
          <dt>Installed version</dt>
          <dd>{helper.version ?? '—'}</dd>
          <dt>This app brings</dt>
          <dd>{helper.bundledVersion}</dd>
          {helper.protocol !== null && (
            <>
              <dt>Protocol</dt>
              <dd>{helper.protocol}</dd>
            </>
          )}
        </dl>
        {state.capabilities.userMode === null && warning !== null && (
          <Banner tone="warning" title={UNSAFE_LOCATION_TITLE}>
            <p>{warning}</p>
          </Banner>
        )}
        {state.capabilities.userMode === null ? (
          <div className="button-row">
            <button
              type="button"
              className={(installed && helper.state !== 'needs-update') || warning !== null ? 'button' : 'button primary'}
              disabled={busy}
              onClick={() => void installHelper(warning !== null ? { allowUnsafeLocation: true } : {})}
            >
              {installLabel}
            </button>
            {installed && (
              <button type="button" className="button danger" disabled={busy} aria-haspopup="dialog" aria-expanded={confirming} onClick={() => setConfirming(true)}>
                {UNINSTALL_LABEL}
              </button>
            )}
          </div>
        ) : (
          <p className="muted">In user mode your administrator manages Berth; there is no helper to install here.</p>
        )}
        <ActionErrorText error={errors['helper.install']} />
        <ActionErrorText error={errors['helper.uninstall']} />
      </div>
    </section>
  );
}

function UserModeSection() {
  const userMode = useBerth((s) => s.backend?.capabilities.userMode ?? null);
  if (userMode === null) return null;
  return (
    <section className="settings-section" aria-labelledby="user-mode-heading">
      <h2 id="user-mode-heading">User mode</h2>
      <div className="card">
        <p>
          An administrator set Berth up for <strong>{userMode.user}</strong> without a helper. In this mode:
        </p>
        <ul className="limits" aria-label="User mode limits">
          {userMode.limits.map((limit) => (
            <li key={limit}>{limit}</li>
          ))}
        </ul>
      </div>
    </section>
  );
}

/** The Settings window (or, in a browser tab, the #settings view). */
export function SettingsView({ browser }: { browser: boolean }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <main className="window settings-window">
      {browser && (
        <a className="back-link" href="#popover">
          <BackIcon /> Back to Berth
        </a>
      )}
      <h1>Settings</h1>
      <div className="stack">
        <Notices />
        <PromptStatus />
        <HelperSection confirming={confirming} setConfirming={setConfirming} />
        <GeneralSection />
        <UserModeSection />
        <PolicySection />
        <AuditSection />
      </div>
      <UninstallDialog open={confirming} onClose={() => setConfirming(false)} />
    </main>
  );
}
