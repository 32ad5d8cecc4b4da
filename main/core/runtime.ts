import { installLayout, HOSTS_PATH, type InstallLayout } from '../../common/paths';
import { userPaths, type UserPaths } from '../../common/user-paths';
import { raiseFileLimit } from '../../native';
import { Backend, type BackendOptions } from './backend';
import { ControlServer } from './control/server';
import { startLoopDelayMonitor, stopLoopDelayMonitor } from './diagnostics/loop-delay';
import { fileLogger } from './log';

/**
 * Starts the backend the way the app runs it: the user's real paths, the
 * system install layout, and the control socket the CLI talks to. The
 * Electron main process and browser mode (`berth app`) both start here.
 */
export interface RuntimeOptions extends Partial<Omit<BackendOptions, 'paths' | 'layout' | 'log'>> {
  appPath: string;
  paths?: UserPaths;
  layout?: InstallLayout;
  /** Also print log lines here (browser mode echoes to stderr). */
  echo?: (line: string) => void;
}

export interface Runtime {
  backend: Backend;
  control: ControlServer;
  paths: UserPaths;
  close(): Promise<void>;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const paths = options.paths ?? userPaths();
  const layout = options.layout ?? installLayout();
  const log = fileLogger(paths.logDir, options.echo);
  try {
    // Every connection of every listener costs a descriptor; the budget keeps
    // back part of the limit for the port mappings (limits/fd-budget.ts).
    // Plain Node raises it at start, an embedder (Electron) need not.
    const { soft } = raiseFileLimit();
    log.info(`file descriptor limit ${soft}`);
  } catch (error) {
    log.warn(`could not raise the file descriptor limit: ${(error as Error).message}`);
  }
  // Off unless BERTH_LOOP_DELAY=1 (benchmarks): it wakes the loop every few ms.
  if (startLoopDelayMonitor()) log.info('event-loop delay monitor on (BERTH_LOOP_DELAY=1)');
  const backend = await Backend.start({ hostsPath: HOSTS_PATH, ...options, paths, layout, log });
  let control: ControlServer;
  try {
    control = await ControlServer.listen({
      socketPath: paths.controlSocketPath,
      call: (method, params) => backend.call(method, params),
      state: () => backend.state(),
      subscribe: (listener) => backend.subscribe(listener),
    });
  } catch (error) {
    await backend.close();
    throw error;
  }
  return {
    backend,
    control,
    paths,
    async close() {
      await control.close();
      await backend.close();
      stopLoopDelayMonitor();
    },
  };
}
