import { useId, useState } from 'react';
import { ActionErrorText } from '../components/ActionErrorText';
import { ShieldIcon } from '../components/icons';
import { Notices } from '../components/Notices';
import { PromptStatus } from '../components/PromptStatus';
import { Banner } from '../components/Banner';
import {
  helperInstalled,
  INSTALL_ANYWAY_LABEL,
  installLabel,
  limitedModeLosses,
  NOT_ENROLLED_DETAIL,
  needsConsent,
  summarizeHelper,
  UNSAFE_LOCATION_TITLE,
} from '../../common/helper/summary';
import { useActions, useBerth } from '../state/context';

export const LIMITED_LABEL = 'Not now — limited mode';

/** A window this tall shows the helper's duties unfolded with both choices still in view. */
const ROOMY_HEIGHT = 900;

/** Each privileged thing the helper does, and why, in the order the user meets them. */
const DUTIES: ReadonlyArray<{ title: string; text: string }> = [
  {
    title: 'Ports below 1024',
    text: 'Lets Berth publish ports such as 80 and 443. The helper opens the port and hands it to Berth; your traffic never passes through it.',
  },
  { title: 'Command-line tools', text: 'Links the berth command into /usr/local/bin, so it is on your PATH.' },
  {
    title: 'Hosts entries',
    text: 'Keeps localhost, and berth.internal (a fixed name for this machine, so links such as http://berth.internal:8080 reach your published ports), in /etc/hosts, in one marked block.',
  },
  {
    title: 'Organization policy',
    text: 'If your organization manages Berth, keeps its signed policy in a place only root can change, so no app can quietly lift it.',
  },
  { title: 'Diagnostics', text: 'When you ask for a diagnostics bundle, adds a short privileged trace of the helper to it.' },
  { title: 'Uninstall', text: 'Removes all of the above, leaving nothing behind, when you uninstall the helper.' },
];

/**
 * First run: what the helper does and why, BEFORE any password prompt, and
 * the two choices. Answered once; the backend remembers it and never asks again.
 */
export function Consent({ headingLevel = 1 }: { headingLevel?: 1 | 2 }) {
  const headingId = useId();
  const lossesId = useId();
  const backend = useBerth((s) => s.backend);
  const deciding = useBerth((s) => s.pending['consent.decide'] === true);
  const error = useBerth((s) => s.errors['consent.decide']);
  const { decideConsent } = useActions();
  // Decided once, when shown: the list then stays as the user leaves it.
  const [roomy] = useState(() => window.innerHeight >= ROOMY_HEIGHT);
  if (backend === null) return null;
  const busy = deciding || backend.prompt !== null;
  // Someone other than root can change the helper: say so before the password, make "Not now" the
  // default, and ask for the password only on an explicit "Install anyway".
  const warning = backend.capabilities.helper.installWarning;
  // The helper already serves other accounts on this machine: installing enrols this one.
  const enrolling = backend.capabilities.helper.state === 'not-enrolled';
  const Heading = headingLevel === 1 ? 'h1' : 'h2';
  const Sub = headingLevel === 1 ? 'h2' : 'h3';
  return (
    <section className="consent" aria-labelledby={headingId}>
      <Heading id={headingId} className="consent-title">
        Set up the Berth helper
      </Heading>
      <p>
        Berth runs as you. A few things developers need, such as port 80, need administrator rights: a small helper does exactly those
        and nothing else. Your system asks for {enrolling ? 'an administrator’s' : 'your'} password once, to install it.
      </p>
      {enrolling && (
        <p>
          {NOT_ENROLLED_DETAIL} Setting it up for you adds your account to it, with an administrator’s password; the accounts it
          already serves are not affected.
        </p>
      )}
      {/* Folded so both choices fit the menu-bar window (380 x 560) without scrolling; open where there is room. */}
      <details className="fold duties-fold" open={roomy}>
        <summary>What the helper does, and why</summary>
        <ul className="duties">
          {DUTIES.map((duty) => (
            <li key={duty.title}>
              <Sub className="duty-title">{duty.title}</Sub>
              <p className="muted">{duty.text}</p>
            </li>
          ))}
        </ul>
      </details>
      <div className="callout">
        <ShieldIcon className="callout-icon" />
        <p>
          <strong>Nothing else gets root.</strong> The helper does only these things, checks who is asking, and records every action in
          an audit log you can read in Settings.
        </p>
      </div>
      {warning !== null && (
        <Banner tone="warning" title={UNSAFE_LOCATION_TITLE}>
          <p>{warning}</p>
        </Banner>
      )}
      <PromptStatus />
      <ActionErrorText error={error} />
      <div className="choices">
        {warning === null ? (
          <button type="button" className="button primary large" disabled={busy} onClick={() => void decideConsent('install')}>
            {installLabel(backend)}
          </button>
        ) : (
          <button type="button" className="button large" disabled={busy} onClick={() => void decideConsent('install', { allowUnsafeLocation: true })}>
            {INSTALL_ANYWAY_LABEL}
          </button>
        )}
        <button
          type="button"
          className={warning === null ? 'button large' : 'button primary large'}
          disabled={busy}
          aria-describedby={lossesId}
          onClick={() => void decideConsent('limited')}
        >
          {LIMITED_LABEL}
        </button>
      </div>
      <p className="muted remember">Berth remembers your choice and does not ask again. You can install the helper from Settings at any time.</p>
      <details id={lossesId} className="fold losses">
        <summary>What limited mode cannot do</summary>
        <ul>
          {limitedModeLosses(backend).map((loss) => (
            <li key={loss}>{loss}</li>
          ))}
        </ul>
      </details>
    </section>
  );
}

/** The #consent window: the consent screen, or once answered, what came of it. */
export function ConsentView() {
  const backend = useBerth((s) => s.backend);
  if (backend === null) return null;
  const consent = backend.settings.consent;
  let after: { title: string; text: string } | null = null;
  if (needsConsent(backend)) {
    after = null;
  } else if (backend.capabilities.userMode !== null) {
    after = { title: 'No setup needed', text: 'An administrator set Berth up for your account; it runs without a helper and never asks for a password.' };
  } else if (consent === 'limited' && !helperInstalled(backend)) {
    after = { title: 'Berth runs in limited mode', text: 'You can install the helper from Settings at any time. You can close this window.' };
  } else if (backend.capabilities.helper.state === 'running') {
    after = { title: 'The helper is installed', text: 'It is running. You can close this window; Berth lives in the menu bar.' };
  } else {
    const summary = summarizeHelper(backend);
    after = { title: summary.title, text: `${summary.detail} The Berth menu shows what to do next.` };
  }
  return (
    <main className="window consent-window">
      {after === null ? (
        <Consent headingLevel={1} />
      ) : (
        <section className="consent-done" aria-labelledby="consent-done-title">
          <h1 id="consent-done-title">{after.title}</h1>
          <p>{after.text}</p>
          <PromptStatus />
          <Notices />
        </section>
      )}
    </main>
  );
}
