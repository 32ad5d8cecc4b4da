import { diagnoseHelper } from '../../common/helper/diagnosis';
import { describe, expect, it } from 'vitest';
import { firstRunState, helperWords, limitedState, lockedPolicyState, runningState, userModeState } from '../../common/api/state-fixtures';
import { asSentence, checkDraft, EMPTY_DRAFT, privilegedAdvice, typedPort, type PortDraft } from './port-form';

const draft = (over: Partial<PortDraft>): PortDraft => ({ ...EMPTY_DRAFT, port: '8080', targetPort: '3000', ...over });

describe('checkDraft', () => {
  it('a valid draft becomes the mapping spec the API takes', () => {
    expect(checkDraft(draft({ address: ' 127.0.0.1 ', targetHost: 'web.local ' }))).toEqual({
      spec: { address: '127.0.0.1', port: 8080, target: { host: 'web.local', port: 3000 } },
      errors: {},
    });
    expect(checkDraft(draft({ address: '::1' })).spec?.address).toBe('::1');
  });

  it('says what is wrong with each field, in the shared schema words where it has them', () => {
    const { spec, errors } = checkDraft({ address: 'localhost', port: '0', targetHost: 'bad host!', targetPort: 'http' });
    expect(spec).toBeNull();
    expect(errors).toEqual({
      address: 'Must be a literal IPv4 or IPv6 address.',
      port: 'Must be a whole number from 1 to 65535.',
      targetHost: 'Must be a hostname or a literal IP address.',
      targetPort: 'Must be a whole number from 1 to 65535.',
    });
  });

  it('asks for missing values rather than reporting types', () => {
    const { errors } = checkDraft({ address: '', port: '', targetHost: '', targetPort: ' ' });
    expect(errors.address).toBe('Enter the address to listen on, e.g. 127.0.0.1.');
    expect(errors.port).toBe('Enter a port from 1 to 65535.');
    expect(errors.targetHost).toBe('The target host is empty.');
    expect(errors.targetPort).toBe('Enter a port from 1 to 65535.');
  });

  it.each(['65536', '99999999', '-1', '1.5', '80a', '0x50'])('refuses port %j', (port) => {
    expect(checkDraft(draft({ port })).errors.port).toBe('Must be a whole number from 1 to 65535.');
  });

  it('refuses zone ids, which the helper never binds', () => {
    expect(checkDraft(draft({ address: 'fe80::1%eth0' })).errors.address).toBe('Must be a literal IPv4 or IPv6 address.');
  });

  it('refuses a second mapping on the same address and port before sending', () => {
    const existing = runningState().ports;
    const result = checkDraft(draft({ address: '127.0.0.1', port: '80' }), existing);
    expect(result.spec).toBeNull();
    expect(result.errors.port).toBe('127.0.0.1 port 80 is already published.');
    expect(checkDraft(draft({ address: '127.0.0.1', port: '81' }), existing).spec).not.toBeNull();
  });
});

describe('checkDraft: UDP', () => {
  it('reads /udp after the port as a UDP mapping of the other fields; /tcp as TCP', () => {
    expect(checkDraft(draft({ port: '5353/udp' }))).toEqual({
      spec: { address: '127.0.0.1', port: 5353, protocol: 'udp', target: { host: 'localhost', port: 3000 } },
      errors: {},
    });
    expect(checkDraft(draft({ port: ' 53 / UDP ', address: '::1' })).spec).toEqual({ address: '::1', port: 53, protocol: 'udp', target: { host: 'localhost', port: 3000 } });
    expect(checkDraft(draft({ port: '8080/tcp' })).spec).toEqual({ address: '127.0.0.1', port: 8080, target: { host: 'localhost', port: 3000 } });
    expect(checkDraft(draft({ port: '70000/udp' })).errors.port).toBe('Must be a whole number from 1 to 65535.');
    expect(typedPort(draft({ port: '53/udp' }))).toBe(53);
  });

  it("reads Docker's UDP form in the Port field, and says how", () => {
    expect(checkDraft(draft({ port: '5353:53/udp' }))).toEqual({
      spec: { address: '127.0.0.1', port: 5353, protocol: 'udp', target: { host: '127.0.0.1', port: 53 } },
      errors: {},
      understood: 'Understood "5353:53/udp" as 127.0.0.1:5353/udp → 127.0.0.1:53.',
    });
  });

  it('a UDP mapping does not take the TCP port of the same number, and the other way round', () => {
    const tcp80 = runningState().ports;
    expect(checkDraft(draft({ address: '127.0.0.1', port: '80/udp' }), tcp80).spec).toMatchObject({ port: 80, protocol: 'udp' });
    const udp = { ...tcp80[0]!, id: '127.0.0.1:53/udp', spec: { address: '127.0.0.1', port: 53, protocol: 'udp' as const, target: { host: 'localhost', port: 5353 } } };
    expect(checkDraft(draft({ address: '127.0.0.1', port: '53/udp' }), [udp]).errors.port).toBe('127.0.0.1 UDP port 53 is already published.');
    expect(checkDraft(draft({ address: '127.0.0.1', port: '53' }), [udp]).spec).toMatchObject({ port: 53 });
  });

  it('warns that privileged UDP is served on loopback only, unless the policy allows more', () => {
    const state = runningState();
    expect(privilegedAdvice('0.0.0.0', 53, state, 'udp')).toEqual({
      tone: 'error',
      text: 'UDP ports below 1024 are served on loopback addresses only (127.0.0.1, ::1) unless your organization’s policy allows more. Use 127.0.0.1, or a port from 1024 up.',
      fix: 'none',
    });
    expect(privilegedAdvice('127.0.0.1', 53, state, 'udp')).toBeNull();
    for (const loopback of ['127.0.0.53', '::1', '0:0::1', '::ffff:127.0.0.1']) expect(privilegedAdvice(loopback, 53, state, 'udp')).toBeNull();
    for (const other of ['::', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1']) expect(privilegedAdvice(other, 53, state, 'udp')?.tone).toBe('error');
    expect(privilegedAdvice('0.0.0.0', 5353, state, 'udp')).toBeNull();
    const allowed = { ...state, capabilities: { ...state.capabilities, policy: { ...state.capabilities.policy, portRules: { udp: 'any' as const } } } };
    expect(privilegedAdvice('0.0.0.0', 53, allowed, 'udp')).toBeNull();
  });
});

describe('checkDraft: a whole mapping in the Port field', () => {
  it.each([
    ['8080:80', { address: '127.0.0.1', port: 8080, target: { host: '127.0.0.1', port: 80 } }, 'Understood "8080:80" as 127.0.0.1:8080 → 127.0.0.1:80.'],
    ['0.0.0.0:8080:80/tcp', { address: '0.0.0.0', port: 8080, target: { host: '127.0.0.1', port: 80 } }, 'Understood "0.0.0.0:8080:80/tcp" as 0.0.0.0:8080 → 127.0.0.1:80.'],
    ['[::1]:80:3000', { address: '::1', port: 80, target: { host: '127.0.0.1', port: 3000 } }, 'Understood "[::1]:80:3000" as [::1]:80 → 127.0.0.1:3000.'],
    [' 80=localhost:3000 ', { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 3000 } }, 'Understood "80=localhost:3000" as 127.0.0.1:80 → localhost:3000.'],
  ])('%j is read by the shared parser, and the form says how', (port, spec, understood) => {
    expect(checkDraft(draft({ port, address: 'ignored', targetHost: '', targetPort: '' }))).toEqual({ spec, errors: {}, understood });
  });

  it.each([
    ['8080:80/sctp', /^"8080:80\/sctp" ends in an unknown protocol; write \/tcp or \/udp, or leave it out for TCP\.$/],
    ['53/quic', /^"53\/quic" ends in an unknown protocol; write \/tcp or \/udp, or leave it out for TCP\.$/],
    ['127.0.0.1:80', /^"127\.0\.0\.1:80" says where to listen but not where to forward; .*e\.g\. 127\.0\.0\.1:80=8080\.$/],
    ['8089:8089', /^127\.0\.0\.1:8089 → 127\.0\.0\.1:8089 forwards to itself/],
  ])('refuses %j next to the Port field', (port, message) => {
    const result = checkDraft(draft({ port }));
    expect(result.spec).toBeNull();
    expect(result.errors.port).toMatch(message);
  });

  it('refuses a mapping already published', () => {
    const result = checkDraft(draft({ port: '80:3000' }), runningState().ports);
    expect(result.spec).toBeNull();
    expect(result.errors.port).toBe('127.0.0.1 port 80 is already published.');
  });

  it.each([
    ['127.0.0.1', 'localhost'],
    ['0.0.0.0', '127.0.0.1'],
    ['::', '::1'],
  ])('refuses %s → %s on the same port: it forwards to itself', (address, targetHost) => {
    const result = checkDraft({ address, port: '8089', targetHost, targetPort: '8089' });
    expect(result.spec).toBeNull();
    expect(result.errors.targetPort).toMatch(/forwards to itself, so every connection would open another without end; give a different target port/);
  });
});

describe('typedPort and asSentence', () => {
  it('reads a whole port number, or nothing', () => {
    expect(typedPort(draft({ port: ' 80 ' }))).toBe(80);
    expect(typedPort(draft({ port: '0' }))).toBeNull();
    expect(typedPort(draft({ port: 'eighty' }))).toBeNull();
  });

  it('capitalizes and ends a message once', () => {
    expect(asSentence('must be x')).toBe('Must be x.');
    expect(asSentence('Done.')).toBe('Done.');
    expect(asSentence('  ')).toBe('');
  });
});

describe('privilegedAdvice', () => {
  it('says nothing about ports from 1024 up, or when the helper can do it', () => {
    expect(privilegedAdvice('127.0.0.1', 8080, firstRunState())).toBeNull();
    expect(privilegedAdvice('127.0.0.1', null, firstRunState())).toBeNull();
    expect(privilegedAdvice('127.0.0.1', 80, runningState())).toBeNull();
  });

  it('says nothing where the system allows the bind itself', () => {
    const state = limitedState();
    state.capabilities.directLowPortBind = { anyAddress: true, specificAddress: false, detail: 'macOS allows 0.0.0.0' };
    expect(privilegedAdvice('0.0.0.0', 80, state)).toBeNull();
    expect(privilegedAdvice('::', 443, state)).toBeNull();
    // …but not on a specific address: that still needs the helper.
    expect(privilegedAdvice('127.0.0.1', 80, state)).toMatchObject({ fix: 'helper' });
  });

  it('points at the helper when it is not installed', () => {
    expect(privilegedAdvice('127.0.0.1', 80, limitedState())).toEqual({
      tone: 'warning',
      text: `Ports below 1024 need the helper. The helper is not installed. ${diagnoseHelper('not-installed').fix} Or choose a port from 1024 up.`,
      fix: 'helper',
    });
  });

  it('points at the setting when privileged port mapping is off', () => {
    const state = runningState();
    state.settings.privilegedPortMapping = false;
    expect(privilegedAdvice('127.0.0.1', 80, state)).toMatchObject({ tone: 'warning', fix: 'settings' });
  });

  it('names the organization when its policy turned the mapping off', () => {
    expect(privilegedAdvice('127.0.0.1', 80, lockedPolicyState())).toEqual({
      tone: 'error',
      text: 'Ports below 1024 are turned off by Acme Corp. Choose a port from 1024 up.',
      fix: 'none',
    });
  });

  it('in user mode, says why the port cannot work', () => {
    const advice = privilegedAdvice('127.0.0.1', 80, userModeState());
    expect(advice).toMatchObject({ tone: 'error', fix: 'none' });
    expect(advice?.text).toContain('net.ipv4.ip_unprivileged_port_start is 1024');
  });

  it.each(['not-running', 'no-permission', 'not-enrolled', 'error', 'impostor', 'busy', 'upgrading'] as const)(
    'a helper that is %s: the diagnosis\'s sentence and fix, the card\'s button only where the install prompt is the fix',
    (condition) => {
      const state = runningState();
      state.capabilities.helper = { ...state.capabilities.helper, state: 'error', ...helperWords(condition) };
      const said = diagnoseHelper(condition);
      const advice = privilegedAdvice('127.0.0.1', 80, state);
      expect(advice?.text).toBe(`Ports below 1024 need the helper. ${said.sentence} ${said.fix} Or choose a port from 1024 up.`);
      expect(advice?.fix).toBe(said.prompt === null ? 'none' : 'helper');
    },
  );
});
