import { backendState, type BackendState } from '../../common/api/backend-api';
import type { TestUser } from '../../test/support/constants';
import { JsonLines, spawnFixture } from './ports/test-support';
import { spawn } from 'node:child_process';
import { inject } from 'vitest';
import { join } from 'node:path';

/**
 * The real Backend in a fixture process (test/fixtures/backend-driver.ts) as
 * an unprivileged user, optionally inside another mount or network
 * namespace: every snapshot it shows is recorded, calls go over stdin.
 * Waits are bounded only so that a failure says what was last seen
 * instead of hanging; nothing asserts how long anything took.
 */
export interface DriverOptions {
  home: string;
  appPath: string;
  refreshMs: number;
  layout?: Record<string, string>;
  settings?: Record<string, unknown>;
  policyFirstRetryMs?: number;
}

const BOUND_MS = 45_000;

export class BackendDriver {
  private nextId = 1;

  private constructor(readonly out: JsonLines) {}

  /** Starts it as `user`; `wrap` puts the command inside a namespace (nsenter ...). */
  static async start(user: TestUser, options: DriverOptions, wrap?: (argv: string[]) => string[]): Promise<BackendDriver> {
    let out: JsonLines;
    if (wrap === undefined) out = spawnFixture('backend-driver', [JSON.stringify(options)], { user, stdin: true });
    else {
      const argv = wrap([
        'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--',
        process.execPath, join(inject('fixturesDir'), 'backend-driver.js'), JSON.stringify(options),
      ]);
      out = new JsonLines(spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' }));
    }
    const driver = new BackendDriver(out);
    const first = await out.next((line) => line.event === 'ready' || line.event === 'failed');
    if (first.event === 'failed') throw new Error(`the backend did not start: ${String(first.message)}`);
    return driver;
  }

  /** Every snapshot so far, in order (the first is the state at start). */
  states(): BackendState[] {
    return this.out.lines.filter((l) => l.event === 'ready' || l.event === 'state').map((l) => backendState.parse(l.state));
  }

  latest(): BackendState {
    return this.states().at(-1)!;
  }

  /**
   * The first snapshot satisfying `pred`, looking at the latest one shown and
   * those after it (or from the `from`-th printed line on, a mark()).
   */
  async until(what: string, pred: (state: BackendState) => boolean, from?: number): Promise<BackendState> {
    const isState = (l: Record<string, unknown>): boolean => l.event === 'ready' || l.event === 'state';
    const start = from ?? Math.max(0, this.out.lines.findLastIndex(isState));
    const line = await this.bounded(what, this.out.next((l) => isState(l) && pred(backendState.parse(l.state)), start));
    return backendState.parse(line.state);
  }

  /** How many lines were printed so far: a mark for `until(..., from)`. */
  mark(): number {
    return this.out.lines.length;
  }

  /** The backend's log lines so far. */
  log(): string[] {
    return this.out.lines.filter((l) => l.event === 'log').map((l) => String(l.text));
  }

  refreshes(): number {
    return this.out.lines.filter((l) => l.event === 'refreshed').length;
  }

  /** Resolves after `count` more refreshes of the timer (or the user's). */
  async moreRefreshes(count: number): Promise<void> {
    const target = this.refreshes() + count;
    await this.bounded(`${count} more refreshes`, this.out.next((l) => l.event === 'refreshed' && (l.refreshes as number) >= target));
  }

  async call(method: string, params: unknown = {}): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }> {
    const id = this.nextId++;
    this.out.child.stdin!.write(`${JSON.stringify({ id, method, params })}\n`);
    const line = await this.bounded(`the reply to ${method}`, this.out.next((l) => l.id === id));
    return line.reply as { ok: boolean; result?: unknown; error?: { code: string; message: string } };
  }

  async close(): Promise<void> {
    this.out.child.stdin!.end();
    const exited = await Promise.race([this.out.exited, new Promise<undefined>((resolve) => setTimeout(resolve, 5_000))]);
    if (exited === undefined) {
      this.out.child.kill('SIGKILL');
      await this.out.exited;
    }
  }

  private bounded<T>(what: string, promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.states().at(-1);
        const summary = last === undefined ? 'nothing' : JSON.stringify({ helper: last.capabilities.helper, hosts: last.capabilities.hostsEntries, cli: last.capabilities.cliTools, policy: last.capabilities.policy, ports: last.ports, notices: last.notices, settings: last.settings });
        reject(new Error(`never saw ${what}; last seen: ${summary}; stderr: ${this.out.stderr.slice(-1500)}`));
      }, BOUND_MS);
    });
    return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
  }
}
