import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Capabilities } from '../../../common/api/capabilities';
import { diagnoseHelper, type HelperDiagnosis } from '../../../common/helper/diagnosis';
import { DEFAULT_SETTINGS } from '../../../common/settings/schema';
import { markInstallFinished, markInstallStarted } from '../../../helper/fs/install-marker';
import { finished, firstLine, runFixtureAs, spawnFixtureAs, startHelper, type HelperProcess } from '../../../test/support/processes';
import { safeScratchDir } from '../../../test/support/scratch';
import { HelperClient } from '../../helper-client';
import type { GatherOptions } from './gather';
import { NO_POLICY } from './sample-reports';

/**
 * The helper's diagnosis in the capabilities report, which is what the
 * renderer gets (the helper card, the port panel): gathered as an
 * unprivileged account, against the real helper and the real parts that
 * make each condition.
 */
const users = inject('users');

/** A world-readable scratch directory (the unprivileged user reads files in it). */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-caps-diag-'));
  chmodSync(dir, 0o755);
  return dir;
}

function options(dir: string, extra: Partial<GatherOptions> = {}): GatherOptions {
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n', { mode: 0o644 });
  const portStart = join(dir, 'port-start');
  writeFileSync(portStart, '1024', { mode: 0o644 });
  return {
    settings: DEFAULT_SETTINGS,
    helperSocketPath: join(dir, 'no-helper.sock'),
    userModePath: join(dir, 'no-user-mode.json'),
    hostsPath: hosts,
    appPath: '/opt/Berth',
    userBinDir: join(dir, 'user-bin'),
    systemBinDir: join(dir, 'system-bin'),
    policy: NO_POLICY,
    unprivilegedPortStartPath: portStart,
    ...extra,
  };
}

/** The report as the unprivileged user's backend would see it. */
function gatherAsUser(opts: GatherOptions): Promise<Capabilities> {
  return runFixtureAs<Capabilities>(users.test, 'diagnostics', ['capabilities', JSON.stringify(opts)]);
}

/** The words of a diagnosis (its detail is the cause's own text, checked elsewhere). */
function pick(d: HelperDiagnosis): Omit<HelperDiagnosis, 'detail'> {
  return { condition: d.condition, sentence: d.sentence, fix: d.fix, command: d.command, prompt: d.prompt };
}

describe('capabilities: the helper diagnosis', () => {
  let helper: HelperProcess;
  let dir: string;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
    dir = scratch();
  });
  afterAll(async () => {
    await helper.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the diagnosis the renderer gets, as the user gathers it: another account\'s helper, an impostor, a busy helper, an update under way', async () => {
    const said = (report: Capabilities) => ({ state: report.helper.state, message: report.helper.message, ...report.helper.diagnosis });

    // The helper serves berth-test only; berth-other gathers (through the same fixture, as that account).
    const other = await runFixtureAs<Capabilities>(users.other, 'diagnostics', ['capabilities', JSON.stringify(options(dir, { helperSocketPath: helper.socketPath }))]);
    expect(said(other)).toMatchObject({ state: 'not-enrolled', ...pick(diagnoseHelper('not-enrolled')) });

    // Something of berth-other's listens where the helper should.
    const squatDir = scratch();
    chmodSync(squatDir, 0o777);
    const squatPath = join(squatDir, 'helper.sock');
    const squatter = spawnFixtureAs(users.other, 'helper-client', ['squat', squatPath]);
    try {
      await firstLine(squatter);
      chmodSync(squatPath, 0o777);
      const impostor = await gatherAsUser(options(dir, { helperSocketPath: squatPath }));
      expect(said(impostor)).toMatchObject({ state: 'error', ...pick(diagnoseHelper('impostor', { impostorUid: users.other.uid })), prompt: null });
    } finally {
      squatter.kill('SIGTERM');
      await finished(squatter);
    }

    // At its connection cap: root holds the one connection it takes.
    const busy = await startHelper({ allowUid: users.test.uid, extraArgs: ['--max-connections', '1'] });
    const holder = await HelperClient.connect(busy.socketPath);
    try {
      expect(said(await gatherAsUser(options(dir, { helperSocketPath: busy.socketPath })))).toMatchObject({ state: 'error', ...pick(diagnoseHelper('busy')) });
    } finally {
      holder.close();
      await busy.stop();
    }

    // Installed (its config names the socket), nothing answers, and an installer's marker names a live process: this one.
    // Root's alone, as the installer's state dir is (the marker is believed only there).
    const stateDir = safeScratchDir('berth-caps-state');
    const config = join(dir, 'installed.json');
    const installedSocket = join(dir, 'installed.sock');
    writeFileSync(config, JSON.stringify({ socketPath: installedSocket }), { mode: 0o644 });
    const installed = options(dir, { helperSocketPath: installedSocket, helperConfigPath: config, helperStateDir: stateDir });
    markInstallStarted(stateDir);
    try {
      expect(said(await gatherAsUser(installed))).toMatchObject({ state: 'not-running', ...pick(diagnoseHelper('upgrading')), prompt: null });
    } finally {
      markInstallFinished(stateDir);
    }
    // The marker gone: installed, not running.
    expect(said(await gatherAsUser(installed))).toMatchObject({ state: 'not-running', condition: 'not-running', prompt: 'install' });
  });

});
