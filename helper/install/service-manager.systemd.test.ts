import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installLayout, SERVICE_LABEL } from '../../common/paths';
import { HELPER_CAPABILITIES, systemdServiceUnit, systemdSocketUnit, type ServiceSpec } from './service';
import { snapshotUpper, upperChanges, type UpperSnapshot } from '../../test/support/overlay-diff';
import { bootSystemdSandbox, type SystemdSandbox } from '../../test/support/systemd-sandbox';
import {
  APP,
  capabilityMask,
  FIXTURES,
  HelperInSandbox,
  INSTALLED_HELPER,
  mountOptions,
  SOCKET,
  statusField,
  superOptions,
  UNIT,
  allowedChurn,
} from '../../test/support/systemd-helper';

/**
 * The helper's systemd install path for real: Debian's systemd as PID 1 in a
 * sandbox (test/support/systemd-sandbox.ts), the real installer as root, the
 * real client as the unprivileged test user. One sandbox, the cases in order:
 * each starts from the state the one before left.
 */

const users = inject('users');
const layout = installLayout('linux');

describe('the helper under systemd (PID 1 in a sandbox)', () => {
  let sandbox: SystemdSandbox;
  let helper: HelperInSandbox;
  let baseline: UpperSnapshot;

  beforeAll(async () => {
    sandbox = await bootSystemdSandbox({ binds: { [inject('fixturesDir')]: FIXTURES } });
    helper = new HelperInSandbox(sandbox, users.test);
    await helper.prepareApp();
    baseline = snapshotUpper(sandbox.upperDir);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('install writes both units, listens on the socket, and starts no helper before first use', async () => {
    const out = await helper.install();
    expect(out).toContain('service manager: systemd');
    const node = (await sandbox.run(['readlink', '-f', '/usr/bin/node'])).trim();
    const spec: ServiceSpec = {
      label: SERVICE_LABEL,
      helperCommand: [node, `${INSTALLED_HELPER}/berth-helper.js`, 'serve', '--config', layout.configPath],
      socketPath: SOCKET,
      installDir: layout.helperDir,
    };
    // The very text the generator's unit tests check is what systemd loaded.
    expect(await sandbox.run(['cat', `/etc/systemd/system/${UNIT}.socket`])).toBe(systemdSocketUnit(spec));
    expect(await sandbox.run(['cat', `/etc/systemd/system/${UNIT}.service`])).toBe(systemdServiceUnit(spec));
    // systemd ignores a directive it does not know with a warning; verify says so.
    const verify = await sandbox.exec(['systemd-analyze', 'verify', `${UNIT}.socket`, `${UNIT}.service`]);
    expect({ code: verify.code, output: verify.stdout + verify.stderr }).toEqual({ code: 0, output: '' });

    expect(await helper.show(`${UNIT}.socket`, ['ActiveState', 'SubState', 'UnitFileState', 'Listen'])).toEqual({
      ActiveState: 'active',
      SubState: 'listening',
      UnitFileState: 'enabled',
      Listen: `${SOCKET} (Stream)`,
    });
    expect((await sandbox.run(['stat', '-c', '%F', SOCKET])).trim()).toBe('socket');
    expect(await helper.show(`${UNIT}.service`, ['ActiveState', 'MainPID'])).toEqual({ ActiveState: 'inactive', MainPID: '0' });
    expect(await helper.helperProcesses()).toBe('');
  });

  it("first use: the test user's `berth run -p 127.0.0.1:80` gets the port through the helper, which systemd starts", async () => {
    // CMD serves on the inherited fd 3 and asks itself once: proof the socket is really bound and listening.
    const server = [
      "const net = require('net');",
      "if (process.env.LISTEN_FDS !== '1') throw new Error('no LISTEN_FDS');",
      'const s = net.createServer((c) => c.end(`served by uid ${process.getuid()}`));',
      's.listen({ fd: 3 }, () => {',
      '  const a = s.address();',
      "  net.connect(a.port, a.address).on('data', (d) => { console.log(JSON.stringify({ address: a.address, port: a.port, reply: String(d) })); process.exit(0); });",
      '});',
    ].join('\n');
    const run = await sandbox.exec(
      ['node', `${FIXTURES}/cli/berth.js`, 'run', '-p', '127.0.0.1:80', '--', 'node', '-e', server],
      helper.asUser(),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({
      address: '127.0.0.1',
      port: 80,
      reply: `served by uid ${users.test.uid}`,
    });
    const service = await helper.show(`${UNIT}.service`, ['ActiveState', 'SubState', 'MainPID']);
    expect(service).toMatchObject({ ActiveState: 'active', SubState: 'running' });
    expect(Number(service.MainPID)).toBeGreaterThan(1);
    // The helper keeps no copy: with CMD gone, nothing listens on port 80.
    expect((await sandbox.run(['ss', '-Hltn', 'sport = :80'])).trim()).toBe('');
  });

  it('keeps its sandbox in force: the unit as systemd reads it, and the running helper as the kernel sees it', async () => {
    const props = await helper.show(`${UNIT}.service`, [
      'NoNewPrivileges',
      'CapabilityBoundingSet',
      'AmbientCapabilities',
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'PrivateIPC',
      'ProtectProc',
      'ProcSubset',
      'RestrictNamespaces',
      'MemoryDenyWriteExecute',
      'SystemCallErrorNumber',
      'UMask',
      'Environment',
    ]);
    expect(props).toEqual({
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: HELPER_CAPABILITIES.map((c) => c.toLowerCase()).sort().join(' '),
      AmbientCapabilities: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      PrivateIPC: 'yes',
      ProtectProc: 'invisible',
      ProcSubset: 'pid',
      RestrictNamespaces: 'yes',
      MemoryDenyWriteExecute: 'yes',
      SystemCallErrorNumber: '1', // EPERM, as systemctl shows it
      UMask: '0077',
      Environment: 'NODE_OPTIONS=--jitless',
    });
    const families = (await helper.show(`${UNIT}.service`, ['RestrictAddressFamilies'])).RestrictAddressFamilies!;
    expect(families.split(' ').sort()).toEqual(['AF_INET', 'AF_INET6']);
    // The allow list as systemd compiled it: what the duties need is in, the privileged rest is out.
    const syscalls = new Set((await helper.show(`${UNIT}.service`, ['SystemCallFilter'])).SystemCallFilter!.split(' '));
    expect(['bind', 'sendmsg', 'fchown', 'renameat2', 'symlinkat', 'pkey_alloc'].filter((c) => !syscalls.has(c))).toEqual([]);
    expect(['mount', 'setuid', 'setrlimit', 'sched_setaffinity', 'reboot', 'init_module', 'ptrace', 'bpf'].filter((c) => syscalls.has(c))).toEqual([]);

    const pid = await helper.mainPid();
    const status = await sandbox.run(['cat', `/proc/${pid}/status`]);
    const mask = capabilityMask(HELPER_CAPABILITIES);
    expect({
      CapBnd: statusField(status, 'CapBnd'),
      CapEff: statusField(status, 'CapEff'),
      CapAmb: statusField(status, 'CapAmb'),
      NoNewPrivs: statusField(status, 'NoNewPrivs'),
      Seccomp: statusField(status, 'Seccomp'),
      Umask: statusField(status, 'Umask'),
    }).toEqual({ CapBnd: mask, CapEff: mask, CapAmb: '0000000000000000', NoNewPrivs: '1', Seccomp: '2', Umask: '0077' });
    // ProtectSystem=strict with its exceptions, and ProtectProc/ProcSubset, as mounted in the helper's own namespace.
    const mountinfo = await sandbox.run(['cat', `/proc/${pid}/mountinfo`]);
    expect(mountOptions(mountinfo, '/')).toContain('ro');
    expect(mountOptions(mountinfo, '/etc')).toContain('rw');
    expect(mountOptions(mountinfo, '/usr/local/bin')).toContain('rw');
    expect(superOptions(mountinfo, '/proc')).toEqual(expect.arrayContaining(['hidepid=invisible', 'subset=pid']));
    // V8 without a JIT: no anonymous executable memory at all (MemoryDenyWriteExecute= could not allow any).
    const maps = await sandbox.run(['cat', `/proc/${pid}/maps`]);
    expect(maps.split('\n').filter((line) => /^\S+ ..x. \S+ \S+ 0 *$/.test(line))).toEqual([]);
  });

  it('does every duty inside that sandbox: bind, hosts, links, trace', async () => {
    const pid = await helper.mainPid();
    expect(await helper.client(['bind', SOCKET, '127.0.0.1', '80', 'tcp'])).toEqual({
      ok: true,
      address: '127.0.0.1',
      port: 80,
      protocol: 'tcp',
      owner: users.test.uid,
    });
    expect(await helper.client(['request', SOCKET, 'ensureHosts', '{}'])).toMatchObject({
      ok: true,
      result: { changed: true, method: 'rename' },
    });
    expect(await sandbox.run(['cat', '/etc/hosts'])).toContain('berth.internal');
    expect(await helper.client(['request', SOCKET, 'installSymlinks', '{"names":["berth"]}'])).toMatchObject({
      ok: true,
      result: { linkDir: '/usr/local/bin', links: [{ name: 'berth', action: 'created' }] },
    });
    expect((await sandbox.run(['readlink', '/usr/local/bin/berth'])).trim()).toBe(`${APP}/resources/bin/berth`);
    // A Berth process of the test user's, for the trace to find (its pid as the sandbox numbers it).
    const app = sandbox.spawn(['sh', '-c', `echo $$; exec ${APP}/berth-app 600`], helper.asUser());
    try {
      const appPid = await new Promise<number>((resolve) => app.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      const trace = await helper.client<{ ok: boolean; result: { processes: Array<{ pid: number; exe: string }>; samples: number } }>([
        'request',
        SOCKET,
        'traceProcesses',
        '{"seconds":1}',
      ]);
      expect(trace.ok).toBe(true);
      expect(trace.result.processes).toEqual([expect.objectContaining({ pid: appPid, exe: `${APP}/berth-app` })]);
      expect(trace.result.samples).toBeGreaterThan(0);
    } finally {
      app.kill('SIGKILL');
    }
    // All of it served by the one helper, which no filter killed on the way.
    expect(await helper.show(`${UNIT}.service`, ['ActiveState', 'MainPID', 'Result'])).toEqual({
      ActiveState: 'active',
      MainPID: String(pid),
      Result: 'success',
    });
    // The files it made have the modes the app relies on, whatever the unit's UMask=; the hosts file keeps its own.
    const hostsBefore = statSync(join(sandbox.lowerDir, 'etc/hosts'));
    expect((await sandbox.run(['stat', '-c', '%a %u:%g', layout.auditLogPath, '/var/lib/berth/links.json', '/etc/hosts'])).trim().split('\n')).toEqual([
      '644 0:0',
      '644 0:0',
      `${(hostsBefore.mode & 0o7777).toString(8)} ${hostsBefore.uid}:${hostsBefore.gid}`,
    ]);
  });

  it("a second user's enrolment leaves the running helper alone: the same MainPID and socket, the first user's open connection served on, the second user served at once", async () => {
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true });
    // The first user's connection, held open across the enrolment (in the sandbox's own /tmp, a tmpfs).
    const go = '/tmp/enrol-go';
    const held = sandbox.spawn(['node', `${FIXTURES}/helper-client.js`, 'pause', SOCKET, go], helper.asUser());
    let output = '';
    held.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) => held.once('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        held.stdout!.on('data', () => output.includes('"ready"') && resolve());
        void exited.then(() => reject(new Error(`the held connection ended before it was ready: ${output}`)));
      });
      const pid = await helper.mainPid();
      expect(pid).toBeGreaterThan(1);
      const listening = await helper.listeningSocket();

      const out = await helper.install(['--uid', String(users.other.uid)]);
      expect(out).toContain(`enrolled uid ${users.other.uid} in ${layout.configPath} (beside uid ${users.test.uid})`);
      expect(out).toMatch(new RegExp(`^enrolled uid ${users.other.uid}; the running helper \\(pid ${pid}\\) serves it now, no restart$`, 'm'));
      expect(out).not.toMatch(/systemctl (stop|restart)/);
      expect(await helper.mainPid()).toBe(pid);
      expect(await helper.listeningSocket()).toEqual(listening);
      expect(await new HelperInSandbox(sandbox, users.other).client(['hello', SOCKET])).toMatchObject({ ok: true, uid: users.other.uid });

      await sandbox.run(['touch', go]);
      await exited;
      expect(JSON.parse(output.trim().split('\n').pop()!)).toMatchObject({ ok: true, info: { protocol: 1 } });
      expect(await helper.mainPid()).toBe(pid);
    } finally {
      held.kill('SIGKILL');
      await sandbox.run(['rm', '-f', go]);
    }
  });

  it('upgrades while running: the socket never stops listening, and the next request meets the new program', async () => {
    const oldPid = await helper.mainPid();
    expect(oldPid).toBeGreaterThan(1);
    const listening = await helper.listeningSocket();
    const addon = `${INSTALLED_HELPER}/berth_native.node`;
    const oldAddon = (await sandbox.run(['stat', '-c', '%i', addon])).trim();
    // The "new version": the same bundle with a marker, so the installed file shows which one it is.
    const marker = `berth upgrade marker ${randomBytes(6).toString('hex')}`;
    await sandbox.run([
      'bash',
      '-euc',
      `mkdir -p /opt/berth-v2/helper && cp ${FIXTURES}/helper/berth_native.node /opt/berth-v2/helper/
       { cat ${FIXTURES}/helper/berth-helper.js; printf '\\n// %s\\n' '${marker}'; } > /opt/berth-v2/helper/berth-helper.js`,
    ]);
    try {
      const loop = sandbox.spawn(['node', `${FIXTURES}/connect-loop.js`, SOCKET], helper.asUser());
      let output = '';
      let errors = '';
      loop.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      loop.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
      const exited = new Promise<void>((resolve) => loop.once('close', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        loop.stdout!.on('data', () => output.includes('"ready"') && resolve());
        void exited.then(() => reject(new Error(`connect-loop ended before it was ready: ${output}${errors}`)));
      });

      await helper.install(['--uid', String(users.test.uid)], '/opt/berth-v2/helper');
      loop.stdin!.end('upgraded\n');
      await exited;
      const summary = JSON.parse(output.trim().split('\n').pop()!) as {
        done: boolean;
        attemptsBeforeMark: number;
        successesAfterMark: number;
        errors: Record<string, { count: number; message: string }>;
        heldAfter: string;
      };
      expect(summary.done, output + errors).toBe(true);
      // Refused or missing would be "unavailable:not-running" / "unavailable:not-installed": never, at any point.
      expect(Object.keys(summary.errors).filter((k) => k === 'unavailable:not-running' || k === 'unavailable:not-installed'), JSON.stringify(summary.errors)).toEqual([]);
      expect(summary.attemptsBeforeMark).toBeGreaterThan(1);
      expect(summary.successesAfterMark).toBe(5);
      // The connection held from before the upgrade was the old program's: it is closed, not answered.
      expect(summary.heldAfter).toBe('unavailable:closed');

      const newPid = await helper.mainPid();
      expect(newPid).toBeGreaterThan(1);
      expect(newPid).not.toBe(oldPid);
      // The very same listening socket throughout: never closed and made again (the loop above could miss a short gap; this cannot).
      expect(await helper.listeningSocket()).toEqual(listening);
      expect(await sandbox.run(['tail', '-c', '200', `${INSTALLED_HELPER}/berth-helper.js`])).toContain(marker);
      // The process serving now has the newly installed addon mapped (a new inode: the file was replaced, not rewritten).
      const newAddon = (await sandbox.run(['stat', '-c', '%i', addon])).trim();
      expect(newAddon).not.toBe(oldAddon);
      const maps = await sandbox.run(['cat', `/proc/${newPid}/maps`]);
      const mapped = new Set(maps.split('\n').filter((l) => l.endsWith(addon)).map((l) => l.split(/\s+/)[4]));
      expect([...mapped]).toEqual([newAddon]);
    } finally {
      // The "new version" is the test's own, not the install's: it goes whatever happened.
      await sandbox.run(['rm', '-r', '/opt/berth-v2']);
    }
  });

  it("an upgrade that changes the socket's definition puts the new one in force", async () => {
    const unitPath = `/etc/systemd/system/${UNIT}.socket`;
    const current = await sandbox.run(['cat', unitPath]);
    // An older version's socket unit: the same but for one setting the listening socket itself shows (its backlog).
    await sandbox.run(['sed', '-i', '/^Accept=no$/a Backlog=7', unitPath]);
    await sandbox.run(['systemctl', 'daemon-reload']);
    await sandbox.run(['systemctl', 'stop', `${UNIT}.service`, `${UNIT}.socket`]);
    await sandbox.run(['systemctl', 'start', `${UNIT}.socket`]);
    const backlog = async (): Promise<string | undefined> => (await sandbox.run(['ss', '-Hxl', 'src', SOCKET])).trim().split(/\s+/)[3];
    expect(await backlog()).toBe('7');
    const listening = await helper.listeningSocket();

    await helper.install();
    expect(await helper.listeningSocket()).not.toEqual(listening);
    expect(await sandbox.run(['cat', unitPath])).toBe(current);
    expect(await backlog()).not.toBe('7');
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true });
  });

  it('comes back after a crash: SIGKILL the helper, and the next request starts it again', async () => {
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true });
    const pid = await helper.mainPid();
    expect(pid).toBeGreaterThan(1);
    await sandbox.run(['kill', '-KILL', String(pid)]);
    // Wait for systemd to notice (not a timing assertion: the state is what is checked).
    for (let i = 0; i < 200 && (await helper.mainPid()) === pid; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await helper.show(`${UNIT}.socket`, ['ActiveState'])).toEqual({ ActiveState: 'active' });
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true, uid: users.test.uid });
    const after = await helper.show(`${UNIT}.service`, ['ActiveState', 'MainPID']);
    expect(after.ActiveState).toBe('active');
    expect(Number(after.MainPID)).not.toBe(pid);
  });

  it('uninstall stops and removes both units and leaves nothing behind, even after a crash', async () => {
    // The harder case: the helper died, so systemd holds its unit as failed until told otherwise.
    const pid = await helper.mainPid();
    expect(pid).toBeGreaterThan(1);
    await sandbox.run(['kill', '-KILL', String(pid)]);
    for (let i = 0; i < 200 && (await helper.show(`${UNIT}.service`, ['ActiveState'])).ActiveState !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await helper.show(`${UNIT}.service`, ['ActiveState'])).toEqual({ ActiveState: 'failed' });

    const out = await helper.uninstall();
    expect(out).toContain('nothing of Berth is left');
    expect(await helper.knownUnits()).toEqual({ loaded: '', files: '' });
    // systemd's own idea of the units is current too: nothing still wants the socket, no reload pending.
    expect((await helper.show('sockets.target', ['Wants'])).Wants).not.toContain(UNIT);
    expect(await helper.show(`${UNIT}.socket`, ['LoadState', 'NeedDaemonReload'])).toEqual({ LoadState: 'not-found', NeedDaemonReload: 'no' });
    expect(await helper.exists(SOCKET)).toBe(false);
    expect(await helper.exists('/run/berth')).toBe(false);
    expect(await helper.helperProcesses()).toBe('');
    expect(upperChanges(baseline, snapshotUpper(sandbox.upperDir), sandbox.lowerDir, allowedChurn)).toEqual([]);
    // /run and /tmp are tmpfs mounts of the sandbox, outside the overlay: nothing of the helper's there either
    // (PrivateTmp= directories included); the test user's home is the suite's own.
    expect(await sandbox.run(['find', '/run', '/tmp', '-name', '*berth*', '-not', '-path', '/tmp/berth-test-home*'])).toBe('');
  });

  it('install --user over an installed helper removes that helper first, then sets up user mode', async () => {
    await helper.install();
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true });
    expect(await helper.helperProcesses()).not.toBe('');

    const out = await helper.install(['--user', users.test.name]);
    expect(out).toContain('removing the earlier helper first');
    expect(await helper.knownUnits()).toEqual({ loaded: '', files: '' });
    expect(await helper.exists(SOCKET)).toBe(false);
    expect(await helper.helperProcesses()).toBe('');
    expect(JSON.parse(await sandbox.run(['cat', layout.userModePath]))).toMatchObject({ user: users.test.name, uid: users.test.uid, appPath: APP });
    expect((await sandbox.run(['readlink', '/usr/local/bin/berth'])).trim()).toBe(`${APP}/resources/bin/berth`);
    expect(await sandbox.run(['cat', '/etc/hosts'])).toContain('berth.internal');

    // And user mode, too, goes without a trace.
    await helper.uninstall();
    expect(upperChanges(baseline, snapshotUpper(sandbox.upperDir), sandbox.lowerDir, allowedChurn)).toEqual([]);
  });

  it('gone when the app is gone: the next start finds it removed, and systemd finishes what the sandbox cannot', async () => {
    await helper.install();
    // The second look, shortened for the test (limits.appGoneConfirmMs).
    await sandbox.run([
      'node',
      '-e',
      'const f=process.argv[1];const fs=require("fs");const c=JSON.parse(fs.readFileSync(f));c.limits={...c.limits,appGoneConfirmMs:200};fs.writeFileSync(f,JSON.stringify(c))',
      layout.configPath,
    ]);
    expect(await helper.client(['request', SOCKET, 'ensureHosts', '{}'])).toMatchObject({ ok: true });
    expect(await helper.client(['request', SOCKET, 'installSymlinks', '{"names":["berth"]}'])).toMatchObject({ ok: true });
    await sandbox.run(['systemctl', 'stop', `${UNIT}.service`]);

    // Dragged to the Trash; the next connection starts the helper, which notices.
    await sandbox.run(['mv', APP, `${APP}.trashed`]);
    await helper.client(['hello', SOCKET]);
    const settled = async (): Promise<boolean> => (await helper.knownUnits()).files === '' && !(await helper.exists(layout.helperDir));
    for (let i = 0; i < 600 && !(await settled()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await helper.knownUnits()).toEqual({ loaded: '', files: '' });
    expect(await helper.exists(SOCKET)).toBe(false);
    expect(await helper.exists('/run/berth')).toBe(false);
    expect(await helper.exists(layout.configPath)).toBe(false);
    expect(await helper.exists(layout.helperDir)).toBe(false);
    expect(await helper.exists('/usr/local/bin/berth')).toBe(false);
    expect(await sandbox.run(['cat', '/etc/hosts'])).not.toContain('berth.internal');
    expect(await helper.helperProcesses()).toBe('');
    // The audit log stays, and says why.
    const last = (await sandbox.run(['tail', '-n', '1', layout.auditLogPath])).trim();
    expect(JSON.parse(last)).toMatchObject({ op: 'uninstall', result: 'ok', peer: { uid: 0 } });
    expect(last).toContain(`the app at ${APP} is gone`);

    // Nothing else: with the app back where it was and the kept log removed, the machine is as before.
    await sandbox.run(['mv', `${APP}.trashed`, APP]);
    await sandbox.run(['rm', '-rf', layout.logDir]);
    expect(upperChanges(baseline, snapshotUpper(sandbox.upperDir), sandbox.lowerDir, allowedChurn)).toEqual([]);
  });
});
