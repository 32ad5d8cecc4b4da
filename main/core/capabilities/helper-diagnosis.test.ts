import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Capabilities } from '../../../common/api/capabilities';
import { diagnoseHelper, type HelperDiagnosis } from '../../../common/helper/diagnosis';
import { markInstallFinished, markInstallStarted } from '../../../helper/fs/install-marker';
import { squatHelperSocket, startHelper } from '../../../test/support/processes';
import { safeScratchDir } from '../../../test/support/scratch';
import { HelperClient } from '../../helper-client';
import { gatherAsUser, helperAndScratch, options } from './gather-fixture';

/**
 * The helper's diagnosis in the capabilities report, which is what the
 * renderer gets (the helper card, the port panel): gathered as an
 * unprivileged account, against the real helper and the real parts that
 * make each condition.
 */
const users = inject('users');

/** The words of a diagnosis (its detail is the cause's own text, checked elsewhere). */
function pick(d: HelperDiagnosis): Omit<HelperDiagnosis, 'detail'> {
  return { condition: d.condition, sentence: d.sentence, fix: d.fix, command: d.command, prompt: d.prompt };
}

describe('capabilities: the helper diagnosis', () => {
  const block = helperAndScratch(users.test.uid);

  it('the diagnosis the renderer gets, as the user gathers it: another account\'s helper, an impostor, a busy helper, an update under way', async () => {
    const said = (report: Capabilities) => ({ state: report.helper.state, message: report.helper.message, ...report.helper.diagnosis });

    // The helper serves berth-test only; berth-other gathers (through the same fixture, as that account).
    const other = await gatherAsUser(options(block.dir, { helperSocketPath: block.helper.socketPath }), users.other);
    expect(said(other)).toMatchObject({ state: 'not-enrolled', ...pick(diagnoseHelper('not-enrolled')) });

    // Something of berth-other's listens where the helper should.
    const squatter = await squatHelperSocket(users.other);
    try {
      const impostor = await gatherAsUser(options(block.dir, { helperSocketPath: squatter.path }));
      expect(said(impostor)).toMatchObject({ state: 'error', ...pick(diagnoseHelper('impostor', { impostorUid: users.other.uid })), prompt: null });
    } finally {
      await squatter.stop();
    }

    // At its connection cap: root holds the one connection it takes.
    const busy = await startHelper({ allowUid: users.test.uid, extraArgs: ['--max-connections', '1'] });
    const holder = await HelperClient.connect(busy.socketPath);
    try {
      expect(said(await gatherAsUser(options(block.dir, { helperSocketPath: busy.socketPath })))).toMatchObject({ state: 'error', ...pick(diagnoseHelper('busy')) });
    } finally {
      holder.close();
      await busy.stop();
    }

    // Installed (its config names the socket), nothing answers, and an installer's marker names a live process: this one.
    // Root's alone, as the installer's state dir is (the marker is believed only there).
    const stateDir = safeScratchDir('berth-caps-state');
    const config = join(block.dir, 'installed.json');
    const installedSocket = join(block.dir, 'installed.sock');
    writeFileSync(config, JSON.stringify({ socketPath: installedSocket }), { mode: 0o644 });
    const installed = options(block.dir, { helperSocketPath: installedSocket, helperConfigPath: config, helperStateDir: stateDir });
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
