import { closeSync } from 'node:fs';
import { isIP, SocketAddress } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ApiError, type ApiErrorCode } from '../../../common/api/backend-api';
import {
  mappingId,
  mappingKey,
  mappingSpec,
  type MappingKey,
  type MappingSpec,
  type MappingStatus,
} from '../../../common/ports/mapping';
import { describeKeyProblem, describeSpecProblem, formatTarget } from '../../../common/ports/parse';
import { forwardsToItself, selfLoopMessage } from '../../../common/ports/self-loop';
import { errnoCode } from '../../../common/errno';
import { acquireListener, type AcquireOptions, type HelperSource, type Listener, type PortRulesInForce } from './bind';
import { processFdBudget } from '../limits/fd-budget';
import { Forwarder } from './forwarder';
import { HelperWatch } from './helper-watch';
import { loadMappings, saveMappings } from './mappings-file';

/**
 * The backend's published ports: each mapping's listener (bound directly or
 * by the helper), its forwarder, its live state, and the mappings file that
 * brings them back after a restart. Electron-free; the backend, the control
 * socket and the tests drive this same class.
 */

export interface PortPublisherOptions {
  mappingsPath: string;
  /** A fresh helper connection, or undefined when it is not installed / not running (see bind.ts helperAt). */
  helper: HelperSource;
  /** The "privileged port mapping" setting, read at every bind. */
  privilegedPortMapping: () => boolean;
  /** Is the machine in user mode (no helper by design)? Read at every bind, to word a refusal. */
  userMode?: () => boolean;
  /** Who holds the setting off by policy, if anyone (see AcquireOptions.lockedBy). Read at every bind. */
  privilegedPortMappingLockedBy?: () => string | null;
  /** The organization's port rules in force, if any. Read at every bind. */
  portRules?: () => PortRulesInForce | null;
  /**
   * Something in list() changed (not called during open(), which returns the list itself).
   * State changes call it at once; connection and byte counters at most every statsIntervalMs.
   */
  onChange: () => void;
  /**
   * The helper's socket: watched while a mapping waits for the helper, so it
   * is re-bound as soon as the helper is back. Without it only the slow poll runs.
   */
  helperSocketPath?: string;
  statsIntervalMs?: number;
  helperPollMs?: number;
  /** Target connections that neither succeed nor fail within this long count as failed. */
  connectTimeoutMs?: number;
  now?: () => Date;
}

type State = MappingStatus['state'];

interface Entry {
  readonly id: string;
  readonly spec: MappingSpec;
  state: State;
  via: Listener['via'] | null;
  error: { code: string; message: string } | null;
  forwarder: Forwarder | undefined;
  /** In the mappings file (an add in progress is not, until it listens). */
  saved: boolean;
}

/** Bind failures that clear up by themselves once the helper answers (or the setting is turned on). */
const WAITING_CODES: ReadonlySet<ApiErrorCode> = new Set(['HELPER_NEEDED', 'HELPER_UNAVAILABLE']);

const DEFAULT_STATS_INTERVAL_MS = 500;

/** The kernel's spelling of a literal address (`0:0::1` → `::1`, upper → lower case), as the socket reports it. */
export function canonicalAddress(address: string): string {
  return new SocketAddress({ address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' }).address;
}

/** This machine's interface addresses: a target on one of them reaches an any-address listener. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((info) => info.address));
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError('FAILED', error instanceof Error ? error.message : String(error));
}

export class PortPublisher {
  private readonly entries = new Map<string, Entry>();
  private readonly watch: HelperWatch | undefined;
  private readonly statsIntervalMs: number;
  private statsTimer: NodeJS.Timeout | undefined;
  private lastStats = '';
  private retrying: Promise<void> | undefined;
  private retryAgain = false;
  private closed = false;
  private readonly unwatchFds: () => void;
  /** Restoring inside open(): the caller gets the list from open() itself, so onChange waits until then. */
  private opening = true;

  private constructor(private readonly options: PortPublisherOptions) {
    this.statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    // The process's descriptors, shared with every listener: the mappings say when they run out.
    this.unwatchFds = processFdBudget().onChange(() => this.changed());
    if (options.helperSocketPath !== undefined) {
      this.watch = new HelperWatch(options.helperSocketPath, () => void this.retryWaiting(), {
        ...(options.helperPollMs !== undefined ? { pollMs: options.helperPollMs } : {}),
      });
    }
  }

  /**
   * Loads the saved mappings and starts each one. A mapping that needs the
   * helper while it is away comes up `waiting` and is re-bound when it is
   * back; one that fails otherwise (port in use...) shows `error` and stays
   * saved. `notice` is set when the mappings file had to be set aside.
   */
  static async open(options: PortPublisherOptions): Promise<{ publisher: PortPublisher; notice?: string }> {
    const loaded = loadMappings(options.mappingsPath, options.now);
    const publisher = new PortPublisher(options);
    for (const saved of loaded.mappings) {
      const spec = { ...saved, address: canonicalAddress(saved.address) };
      const entry: Entry = { id: mappingId(spec), spec, state: 'starting', via: null, error: null, forwarder: undefined, saved: true };
      // A hand-edited file may spell one address two ways: the first wins, as for exact duplicates.
      if (!publisher.entries.has(entry.id)) publisher.entries.set(entry.id, entry);
    }
    for (const entry of publisher.entries.values()) await publisher.start(entry);
    publisher.opening = false;
    publisher.updateWatch();
    return loaded.notice !== undefined ? { publisher, notice: loaded.notice } : { publisher };
  }

  list(): MappingStatus[] {
    return [...this.entries.values()].map((entry) => this.status(entry));
  }

  /**
   * Publishes a new mapping: binds it (directly, or through the helper on
   * EACCES), starts forwarding and saves it. On any failure nothing is saved
   * and the port is not held.
   */
  async add(input: MappingSpec): Promise<MappingStatus> {
    const problem = describeSpecProblem(input);
    if (problem !== undefined) throw new ApiError('INVALID', problem);
    const parsed = mappingSpec.parse(input);
    // One spelling per address ("0:0::1" is "::1"), so a duplicate is caught by its id, not by bind(2).
    const spec = { ...parsed, address: canonicalAddress(parsed.address) };
    // Every add (CLI, form, control socket) comes here: a mapping whose target is its own
    // listener would multiply one connection without end, so it is never bound.
    if (forwardsToItself(spec, localAddresses())) throw new ApiError('INVALID', selfLoopMessage(spec));
    const id = mappingId(spec);
    const existing = this.entries.get(id);
    if (existing) {
      throw new ApiError('CONFLICT', `${id} is already published (to ${formatTarget(existing.spec.target)})`);
    }
    if (this.closed) throw new ApiError('FAILED', 'port publishing has stopped');
    // Reserved before the first await, so two adds of one port cannot both pass the check above.
    const entry: Entry = { id, spec, state: 'starting', via: null, error: null, forwarder: undefined, saved: false };
    this.entries.set(id, entry);
    this.changed();
    let forwarder: Forwarder | undefined;
    try {
      const listener = await acquireListener(spec, this.bindOptions());
      if (!this.current(entry) || this.closed) {
        closeSync(listener.fd);
        throw new ApiError('CONFLICT', `${id} was removed while it was starting`);
      }
      forwarder = await this.forward(entry, listener.fd);
      if (!this.current(entry) || this.closed) throw new ApiError('CONFLICT', `${id} was removed while it was starting`);
      this.save(this.savedSpecs(entry), `${id} was not published`);
      Object.assign(entry, { state: 'listening', via: listener.via, forwarder, saved: true });
      this.changed();
      return this.status(entry);
    } catch (error) {
      await forwarder?.close();
      if (this.current(entry)) this.entries.delete(id);
      this.changed();
      throw asApiError(error);
    }
  }

  /** Stops a mapping and forgets it; the port is free when this resolves. */
  async remove(key: MappingKey): Promise<void> {
    const checked = mappingKey.safeParse(key);
    if (!checked.success) throw new ApiError('INVALID', describeKeyProblem(key) ?? 'not a valid address and port');
    const id = mappingId({ ...checked.data, address: canonicalAddress(checked.data.address) });
    const entry = this.entries.get(id);
    if (!entry) throw new ApiError('NOT_FOUND', `${id} is not published`);
    // The file first: if it cannot be written, the mapping keeps running and nothing is lost.
    if (entry.saved) this.save(this.savedSpecs(undefined, entry), `${id} is still published`);
    this.entries.delete(id);
    await entry.forwarder?.close();
    this.updateWatch();
    this.changed();
  }

  /**
   * Tries every `waiting` mapping again (the helper may be back, or the
   * setting turned on). Called by the helper watch; the backend also calls
   * it when the setting changes. Concurrent calls share one pass (plus one
   * more if asked during it).
   */
  retryWaiting(): Promise<void> {
    if (this.retrying) {
      this.retryAgain = true;
      return this.retrying;
    }
    this.retrying = (async () => {
      do {
        this.retryAgain = false;
        for (const entry of [...this.entries.values()]) {
          if (entry.state === 'waiting' && this.current(entry) && !this.closed) await this.start(entry);
        }
      } while (this.retryAgain && !this.closed);
    })().finally(() => {
      this.retrying = undefined;
      this.updateWatch();
    });
    return this.retrying;
  }

  /** The setting changed (the user's switch or a policy's lock): on, waiting ports bind; off, the helper's ports close. */
  async privilegedSettingChanged(): Promise<void> {
    if (this.options.privilegedPortMapping()) await this.retryWaiting();
    else await this.releaseHelperBound();
  }

  /**
   * "Privileged port mapping" was turned off: the mappings the helper bound stop
   * (their ports are freed) and wait, still saved, until it is turned on again.
   * The setting says whether Berth may use root for ports at all, not only for
   * the next one.
   */
  async releaseHelperBound(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (entry.via !== 'helper' || !this.current(entry) || this.closed) continue;
      const forwarder = entry.forwarder;
      Object.assign(entry, { state: 'starting', via: null, error: null });
      // The forwarder stays on the entry until it is closed: a remove() meanwhile waits for the same close.
      await forwarder?.close();
      if (entry.forwarder === forwarder) entry.forwarder = undefined;
      // Bound again under the current setting: with it off, a port the user cannot bind waits (and says why).
      if (this.current(entry) && !this.closed) await this.start(entry);
    }
    // Turned on again while this ran: what now waits is bound again at once, not at the next poll.
    if (this.options.privilegedPortMapping() && !this.closed) await this.retryWaiting();
  }

  /** Stops every listener and connection (the mappings stay saved for the next start). */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatchFds();
    this.watch?.stop();
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    await Promise.all([...this.entries.values()].map((entry) => entry.forwarder?.close()));
  }

  private bindOptions(): AcquireOptions {
    return {
      helper: this.options.helper,
      privilegedPortMapping: this.options.privilegedPortMapping(),
      userMode: this.options.userMode?.() ?? false,
      lockedBy: this.options.privilegedPortMappingLockedBy?.() ?? null,
      portRules: this.options.portRules?.() ?? null,
    };
  }

  /** Binds and forwards a saved entry; failures become its state instead of an exception. */
  private async start(entry: Entry): Promise<void> {
    try {
      // A hand-edited mappings file can hold a self-forwarding mapping too: it shows an error, unbound.
      if (forwardsToItself(entry.spec, localAddresses())) throw new ApiError('INVALID', selfLoopMessage(entry.spec));
      const listener = await acquireListener(entry.spec, this.bindOptions());
      if (!this.current(entry) || this.closed) {
        closeSync(listener.fd);
        return;
      }
      if (listener.via === 'helper' && !this.options.privilegedPortMapping()) {
        // Turned off while the helper was binding it: not used, and bound again under the setting as it is now.
        closeSync(listener.fd);
        await this.start(entry);
        return;
      }
      const forwarder = await this.forward(entry, listener.fd);
      if (!this.current(entry) || this.closed) {
        await forwarder.close();
        return;
      }
      Object.assign(entry, { state: 'listening', via: listener.via, forwarder, error: null });
    } catch (error) {
      const apiError = asApiError(error);
      const state = WAITING_CODES.has(apiError.code) ? 'waiting' : 'error';
      // A retry that fails the same way is no news: the UI is not told again.
      if (entry.state === state && entry.error?.code === apiError.code && entry.error.message === apiError.message) return;
      entry.state = state;
      entry.error = { code: apiError.code, message: apiError.message };
    }
    this.changed();
  }

  /** A forwarder on the fd, checked to listen where the mapping says (the helper's socket included). */
  private async forward(entry: Entry, fd: number): Promise<Forwarder> {
    const forwarder = await Forwarder.listen(fd, entry.spec.target, {
      onActivity: () => this.activity(),
      ...(this.options.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
    });
    const bound = forwarder.address();
    if (canonicalAddress(bound.address) !== entry.spec.address || bound.port !== entry.spec.port) {
      await forwarder.close();
      throw new ApiError('FAILED', `the socket for ${entry.id} listens on ${bound.address}:${bound.port} instead; it was closed`);
    }
    return forwarder;
  }

  private current(entry: Entry): boolean {
    return this.entries.get(entry.id) === entry;
  }

  /** What the file should hold: the saved entries, plus `adding`, minus `removing`, in order. */
  private savedSpecs(adding: Entry | undefined, removing?: Entry): MappingSpec[] {
    return [...this.entries.values()].filter((e) => e !== removing && (e.saved || e === adding)).map((e) => e.spec);
  }

  private save(specs: MappingSpec[], consequence: string): void {
    try {
      saveMappings(this.options.mappingsPath, specs);
    } catch (error) {
      throw new ApiError('FAILED', `the port mappings could not be saved (${errnoCode(error) ?? (error as Error).message}), so ${consequence}`);
    }
  }

  private status(entry: Entry): MappingStatus {
    const stats = entry.forwarder?.stats();
    return {
      id: entry.id,
      spec: { address: entry.spec.address, port: entry.spec.port, target: { ...entry.spec.target } },
      state: entry.state,
      via: entry.via,
      error: entry.error,
      connections: { active: stats?.active ?? 0, total: stats?.total ?? 0, failed: stats?.failed ?? 0 },
      bytes: { in: stats?.bytesIn ?? 0, out: stats?.bytesOut ?? 0 },
      lastTargetError: entry.forwarder?.lastTargetError ?? null,
      acceptError: entry.forwarder?.acceptError ?? null,
    };
  }

  /** The watch runs only while something waits for the helper. */
  private updateWatch(): void {
    if (!this.watch) return;
    // With the setting off, only turning it on helps: the backend calls retryWaiting then, no need to poll.
    const waiting =
      !this.closed && this.options.privilegedPortMapping() && [...this.entries.values()].some((e) => e.state === 'waiting');
    if (waiting) this.watch.start();
    else this.watch.stop();
  }

  /** A state change: tell the listener now. */
  private changed(): void {
    if (this.closed) return;
    this.updateWatch();
    if (!this.opening) this.options.onChange();
  }

  /**
   * Connection activity: reported at most every statsIntervalMs, and while
   * connections are open the counters are re-read on that same beat (only
   * reported when they moved). Never per chunk.
   */
  private activity(): void {
    if (this.statsTimer || this.closed) return;
    this.statsTimer = setTimeout(() => this.statsTick(), this.statsIntervalMs);
    this.statsTimer.unref();
  }

  private statsTick(): void {
    this.statsTimer = undefined;
    if (this.closed) return;
    if (this.opening) {
      this.activity(); // report once open() has returned
      return;
    }
    let active = 0;
    let signature = '';
    for (const entry of this.entries.values()) {
      const stats = entry.forwarder?.stats();
      if (!stats) continue;
      active += stats.active;
      signature += `${entry.id} ${stats.total} ${stats.failed} ${stats.active} ${stats.bytesIn} ${stats.bytesOut};`;
    }
    if (signature !== this.lastStats) {
      this.lastStats = signature;
      this.options.onChange();
    }
    if (active > 0) this.activity();
  }
}
