import type { HelperDiagnosis } from '../../../common/helper/diagnosis';
import { closeSync } from 'node:fs';
import { ApiError, type ApiErrorCode } from '../../../common/api/backend-api';
import { mappingId, mappingKey, mappingSpec, protocolOf, withProtocol, type MappingKey, type MappingSpec, type MappingStatus } from '../../../common/ports/mapping';
import { describeKeyProblem, describeSpecProblem, formatTarget } from '../../../common/ports/parse';
import { forwardsToItself, selfLoopMessage } from '../../../common/ports/self-loop';
import { errnoCode } from '../../../common/errno';
import { watchAddresses } from './address-watch';
import { acquireListener, type AcquireOptions, type HelperSource, type PortRulesInForce } from './bind';
import { asApiError, canonicalAddress, localAddresses, statusOf, type Entry } from './entry';
import { processFdBudget } from '../limits/fd-budget';
import { HelperWatch } from './helper-watch';
import { loadMappings, saveMappings } from './mappings-file';
import { explainOwnHolder } from './own-holder';
import { explainRunHolder } from './run-holder';
import { retryReason, RetryScheduler, type RetryOptions } from './retry';
import { serveListener, type PortForwarder } from './serve';
import { StatsBeat } from './stats-beat';

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
  /** What is wrong with the helper, asked when it could not be used, to word the error (AcquireOptions.diagnose). */
  helperDiagnosis?: () => Promise<HelperDiagnosis>;
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
  /** Retrying saved mappings whose port or address is not there yet (retry.ts): the back-off, the address watch. */
  retry?: RetryOptions;
  /** The user's records of running berth runs (UserPaths.runsDir): a port one of them holds is said to be (run-holder.ts). */
  runsDir?: string;
  now?: () => Date;
}

/** Bind failures that clear up by themselves once the helper answers (or the setting is turned on); the helper watch retries them. */
const WAITING_CODES: ReadonlySet<ApiErrorCode> = new Set(['HELPER_NEEDED', 'HELPER_UNAVAILABLE']);

const DEFAULT_STATS_INTERVAL_MS = 500;

export class PortPublisher {
  private readonly entries = new Map<string, Entry>();
  private readonly watch: HelperWatch | undefined;
  private readonly retries: RetryScheduler;
  private readonly stats: StatsBeat;
  private retrying: Promise<void> | undefined;
  private retryAgain = false;
  private closed = false;
  private readonly unwatchFds: () => void;
  /** Restoring inside open(): the caller gets the list from open() itself, so onChange waits until then. */
  private opening = true;

  private constructor(private readonly options: PortPublisherOptions) {
    this.stats = new StatsBeat(
      options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS,
      () => (this.opening ? undefined : this.entries.values()),
      () => this.options.onChange(),
    );
    // The OS's address watch unless the caller chose otherwise (tests: none, to see the back-off alone).
    this.retries = new RetryScheduler((id) => this.retryDue(id), { openAddressWatch: watchAddresses, ...options.retry });
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
   * helper while it is away, or whose port is in use or address not up yet,
   * comes up `waiting` and binds by itself when that clears; one that fails
   * otherwise (a policy refusal...) shows `error` and stays saved. `notice`
   * is set when the mappings file had to be set aside.
   */
  static async open(options: PortPublisherOptions): Promise<{ publisher: PortPublisher; notice?: string }> {
    const loaded = loadMappings(options.mappingsPath, options.now);
    const publisher = new PortPublisher(options);
    for (const saved of loaded.mappings) {
      const spec = withProtocol({ ...saved, address: canonicalAddress(saved.address) });
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
    const spec = withProtocol({ ...parsed, address: canonicalAddress(parsed.address) });
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
    let forwarder: PortForwarder | undefined;
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
      throw this.explain(error, entry);
    }
  }

  /** Stops a mapping and forgets it; the port is free when this resolves. */
  async remove(key: MappingKey): Promise<void> {
    const checked = mappingKey.safeParse(key);
    if (!checked.success) throw new ApiError('INVALID', describeKeyProblem(key) ?? 'not a valid address and port');
    const id = mappingId(withProtocol({ ...checked.data, address: canonicalAddress(checked.data.address) }));
    const entry = this.entries.get(id);
    if (!entry) throw new ApiError('NOT_FOUND', `${id} is not published`);
    // The file first: if it cannot be written, the mapping keeps running and nothing is lost.
    if (entry.saved) this.save(this.savedSpecs(undefined, entry), `${id} is still published`);
    this.entries.delete(id);
    this.retries.cancel(id);
    await entry.forwarder?.close();
    // Its port is free now: a mapping of ours that waited for it tries at once.
    const holds = (other: MappingSpec | undefined): boolean => other?.port === entry.spec.port && protocolOf(other) === protocolOf(entry.spec);
    if (entry.state === 'listening') this.retries.retryNow((other, reason) => reason === 'port' && holds(this.entries.get(other)?.spec));
    this.updateWatch();
    this.changed();
  }

  /**
   * Tries every mapping waiting for the helper again (it may be back, or the
   * setting turned on); those waiting for a port or an address have their
   * own timers (retry.ts). Called by the helper watch; the backend also calls
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
          if (this.waitsForHelper(entry) && this.current(entry) && !this.closed) await this.start(entry);
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
    this.retries.close();
    this.stats.stop();
    await Promise.all([...this.entries.values()].map((entry) => entry.forwarder?.close()));
  }

  private bindOptions(): AcquireOptions {
    return {
      helper: this.options.helper,
      privilegedPortMapping: this.options.privilegedPortMapping(),
      userMode: this.options.userMode?.() ?? false,
      lockedBy: this.options.privilegedPortMappingLockedBy?.() ?? null,
      portRules: this.options.portRules?.() ?? null,
      ...(this.options.helperDiagnosis !== undefined ? { diagnose: this.options.helperDiagnosis } : {}),
    };
  }

  /** Binds and forwards a saved entry, one attempt at a time (one asked for meanwhile runs after it). */
  private start(entry: Entry): Promise<void> {
    if (entry.starting) {
      entry.again = true;
      return entry.starting;
    }
    const run = async (): Promise<void> => {
      do {
        entry.again = false;
        await this.startOnce(entry);
      } while (entry.again && entry.state !== 'listening' && this.current(entry) && !this.closed);
    };
    entry.starting = run().finally(() => (entry.starting = undefined));
    return entry.starting;
  }

  /** A retry timer (or an address change) asks for another attempt. */
  private retryDue(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || this.closed) this.retries.cancel(id);
    else if (entry.state !== 'listening') void this.start(entry);
  }

  /** One attempt; a failure becomes the entry's state instead of an exception. */
  private async startOnce(entry: Entry): Promise<void> {
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
        entry.again = true;
        return;
      }
      const forwarder = await this.forward(entry, listener.fd);
      if (!this.current(entry) || this.closed) {
        await forwarder.close();
        return;
      }
      Object.assign(entry, { state: 'listening', via: listener.via, forwarder, error: null });
      this.retries.cancel(entry.id);
    } catch (error) {
      this.failed(entry, error);
      return;
    }
    this.changed();
  }

  /** A failed attempt: waiting (retried: by its timer, or when the helper is back) or error (for the user). */
  private failed(entry: Entry, error: unknown): void {
    // Removed (or closed) while it was binding: nothing more is tried for it.
    if (!this.current(entry) || this.closed) return;
    const apiError = this.explain(error, entry);
    const reason = retryReason(apiError);
    if (reason !== undefined) this.retries.failed(entry.id, reason);
    else this.retries.cancel(entry.id);
    const state = reason !== undefined || WAITING_CODES.has(apiError.code) ? 'waiting' : 'error';
    // A retry that fails the same way is no news (unless its next try moved): the UI is not told again.
    if (reason === undefined && entry.state === state && entry.error?.code === apiError.code && entry.error.message === apiError.message) return;
    Object.assign(entry, { state, error: { code: apiError.code, message: apiError.message } });
    this.changed();
  }

  private waitsForHelper(entry: Entry): boolean {
    return entry.state === 'waiting' && !this.retries.has(entry.id);
  }

  /** A failure in the user's words: a port in use says who holds it when that is Berth itself or the user's own berth run. */
  private explain(error: unknown, entry: Entry): ApiError {
    const apiError = asApiError(error);
    const own = explainOwnHolder(apiError, entry.spec, this.listeningSpecs(entry));
    return own !== apiError ? own : explainRunHolder(apiError, entry.spec, this.options.runsDir);
  }

  /** What listens now, but `except`: the mappings that can hold a port another one wants. */
  private listeningSpecs(except: Entry): MappingSpec[] {
    return [...this.entries.values()].filter((e) => e !== except && e.state === 'listening').map((e) => e.spec);
  }

  /** A forwarder (TCP or UDP) on the fd, checked to listen where the mapping says (the helper's socket included). */
  private async forward(entry: Entry, fd: number): Promise<PortForwarder> {
    const forwarder = await serveListener(entry.spec, fd, {
      onActivity: () => this.stats.activity(),
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
    return statusOf(entry, this.retries.next(entry.id));
  }

  /** The watch runs only while something waits for the helper. */
  private updateWatch(): void {
    if (!this.watch) return;
    // With the setting off, only turning it on helps: the backend calls retryWaiting then, no need to poll.
    const waiting = !this.closed && this.options.privilegedPortMapping() && [...this.entries.values()].some((e) => this.waitsForHelper(e));
    if (waiting) this.watch.start();
    else this.watch.stop();
  }

  /** A state change: tell the listener now. */
  private changed(): void {
    if (this.closed) return;
    this.updateWatch();
    if (!this.opening) this.options.onChange();
  }
}
