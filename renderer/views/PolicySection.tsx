import type { ReactNode } from 'react';
import { describePortRules } from '../../common/policy/port-rules';
import { formatDay } from '../../common/text/dates';
import type { ToggleKey } from '../../common/settings/schema';
import { Banner } from '../components/Banner';
import { LockIcon } from '../components/icons';
import { onOff } from '../logic/format';
import { useBerth } from '../state/context';

/** The organization policy in Settings: who manages this machine, what is locked, registries and ports. */

export const TOGGLE_LABEL: Record<ToggleKey, string> = {
  privilegedPortMapping: 'Privileged port mapping',
  cliToolsLocation: 'CLI tools location',
  hostsEntries: 'Hosts entries',
  startAtLogin: 'Start at login',
};

export function lockedValue(key: ToggleKey, value: boolean | string): string {
  if (key === 'cliToolsLocation') return value === 'system' ? 'System' : 'User';
  return onOff(value === true);
}

export function PolicySection() {
  const state = useBerth((s) => s.backend);
  if (state === null) return null;
  const policy = state.capabilities.policy;
  const org = policy.organization ?? 'your organization';
  const locked = (Object.keys(state.locked) as ToggleKey[]).filter((k) => state.locked[k] !== undefined);
  let summary: ReactNode;
  switch (policy.state) {
    case 'none':
      summary = <p>No organization policy applies: every setting is yours to change.</p>;
      break;
    case 'valid':
      summary = (
        <p>
          Managed by <strong>{org}</strong>
          {policy.version !== null ? `, policy version ${policy.version}` : ''}
          {policy.expires !== null ? `, valid until ${formatDay(policy.expires)}` : ''}.
        </p>
      );
      break;
    case 'expired':
      summary = (
        <Banner tone="warning" title={`The policy from ${org} has expired`}>
          {policy.expires !== null ? `It was valid until ${formatDay(policy.expires)}. ` : ''}Ask your administrator for a new one.
        </Banner>
      );
      break;
    case 'untrusted':
      summary = (
        <Banner tone="error" title="A policy was found and ignored">
          {policy.reason ?? 'Its signature could not be verified.'}
        </Banner>
      );
      break;
  }
  return (
    <section className="settings-section" aria-labelledby="policy-heading">
      <h2 id="policy-heading">Organization policy</h2>
      <div className="card">
        {summary}
        {locked.length > 0 && (
          <>
            <h3>Locked settings</h3>
            <ul className="plain-list" aria-label="Locked settings">
              {locked.map((key) => (
                <li key={key}>
                  <LockIcon /> {TOGGLE_LABEL[key]}: {lockedValue(key, state.locked[key]!)}
                </li>
              ))}
            </ul>
          </>
        )}
        <h3 id="registries-heading">Allowed registries</h3>
        {policy.allowedRegistries === null ? (
          <p className="muted">Any registry: the policy sets no allowlist.</p>
        ) : policy.allowedRegistries.length === 0 ? (
          <p className="muted">None: the policy allows no registry.</p>
        ) : (
          <ul className="plain-list mono" aria-labelledby="registries-heading">
            {policy.allowedRegistries.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        )}
        <h3 id="port-rules-heading">Ports</h3>
        {policy.portRules === null ? (
          <p className="muted">Any port: the policy sets no port rules.</p>
        ) : (
          <ul className="plain-list" aria-labelledby="port-rules-heading">
            {describePortRules(policy.portRules).map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

