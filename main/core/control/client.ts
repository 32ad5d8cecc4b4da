import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import {
  ApiError,
  apiError,
  backendState,
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type BackendState,
  type BerthApi,
} from '../../../common/api/backend-api';
import { errnoCode } from '../../../common/errno';
import { unwrapReply } from '../api/dispatch';
import { readJsonLines, writeJsonLine } from './lines';

const serverMessage = z.union([
  z.strictObject({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ id: z.number().int(), ok: z.literal(false), error: apiError }),
  z.strictObject({ event: z.literal('state'), state: z.unknown() }),
]);

/** Berth is not running for this user: the CLI says how to start it. */
export class BackendNotRunningError extends Error {
  constructor(socketPath: string) {
    super(`Berth is not running (no app answers on ${socketPath}); start it with "berth app" or from your applications menu`);
    this.name = 'BackendNotRunningError';
  }
}

/**
 * How long a call may take before the CLI gives up: an app that was paused
 * (Ctrl-Z in its terminal) or is stuck must not hang a script forever.
 * Calls that wait for a person (the password prompt) get longer.
 * BERTH_CLI_DEADLINE_MS overrides the first (tests, slow machines).
 */
export const CALL_DEADLINE_MS = 15_000;
export const PROMPT_DEADLINE_MS = 10 * 60_000;
const WAITS_FOR_A_PERSON: ReadonlySet<ApiMethod> = new Set(['consent.decide', 'helper.install', 'helper.uninstall']);

function deadlineFor(method: ApiMethod): number {
  if (WAITS_FOR_A_PERSON.has(method)) return PROMPT_DEADLINE_MS;
  const override = Number(process.env.BERTH_CLI_DEADLINE_MS);
  return Number.isInteger(override) && override > 0 ? override : CALL_DEADLINE_MS;
}

/** The CLI's side of the control socket: the same typed API the renderer uses. */
export class ControlClient implements BerthApi {
  private nextId = 1;
  private readonly pending = new Map<number, { method: ApiMethod; resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(state: BackendState) => void>();
  private subscribed = false;

  private constructor(private readonly socket: Socket) {
    readJsonLines(socket, (message) => this.onMessage(message));
    socket.on('close', () => {
      const error = new ApiError('FAILED', 'the connection to Berth closed');
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
    socket.on('error', () => socket.destroy());
  }

  static connect(socketPath: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('error', (error) => {
        const code = errnoCode(error);
        reject(code === 'ENOENT' || code === 'ECONNREFUSED' ? new BackendNotRunningError(socketPath) : error);
      });
    });
  }

  call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    const id = this.nextId++;
    const deadline = deadlineFor(method);
    return new Promise<ApiResult<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new ApiError(
            'FAILED',
            `Berth did not answer within ${Math.round(deadline / 1000)} s: it may be paused (Ctrl-Z in the terminal where it runs: type fg there) or stuck; quit it and start it again`,
          ),
        );
        this.socket.destroy();
      }, deadline);
      const settle = <T>(fn: (v: T) => void) => (v: T): void => {
        clearTimeout(timer);
        fn(v);
      };
      this.pending.set(id, { method, resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) });
      writeJsonLine(this.socket, { id, method, params });
    });
  }

  subscribe(listener: (state: BackendState) => void): () => void {
    this.listeners.add(listener);
    if (!this.subscribed) {
      this.subscribed = true;
      writeJsonLine(this.socket, { subscribe: true });
    }
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.socket.destroy();
  }

  private onMessage(message: unknown): void {
    const parsed = serverMessage.safeParse(message);
    if (!parsed.success) {
      this.socket.destroy();
      return;
    }
    const m = parsed.data;
    if ('event' in m) {
      const state = backendState.safeParse(m.state);
      if (state.success) for (const listener of this.listeners) listener(state.data);
      return;
    }
    const pending = this.pending.get(m.id);
    if (!pending) return;
    this.pending.delete(m.id);
    try {
      pending.resolve(unwrapReply(pending.method, m.ok ? { ok: true, result: m.result } : { ok: false, error: m.error }));
    } catch (error) {
      pending.reject(error as Error);
    }
  }
}
