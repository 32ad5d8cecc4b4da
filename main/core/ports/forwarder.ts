import { JsForwarder } from './js-forwarder';
import { NativeForwarder, NativePlaneUnavailable } from './native-forwarder';
import type { DataPlane, Forwarder as ForwarderType, ForwarderOptions, ForwardTarget } from './forwarding';

/**
 * The forwarder behind a published port, on one of two data planes:
 * - native (./native-forwarder.ts): the addon's pump thread moves the bytes
 *   (Linux: splice through a pipe, no copy through user space; macOS: kqueue
 *   and read/write), JavaScript keeps accept, policy and reports;
 * - js (./js-forwarder.ts): Node streams, the fallback wherever the native
 *   plane cannot start (no addon, no thread), and what BERTH_DATA_PLANE=js
 *   forces for a user who meets a bug in the native one.
 * Both behave the same (forwarder.test.ts runs every behaviour on both).
 */

export { describeTargetError, descriptorsRefusal, type DataPlane, type ForwarderOptions, type ForwarderStats, type ForwardTarget } from './forwarding';
export { FORWARDING_HEAP_TRIM_THRESHOLD } from './js-forwarder';

export type Forwarder = ForwarderType;

/** The data plane the environment asks for: BERTH_DATA_PLANE=js or =native; anything else leaves the choice to Berth. */
export function requestedDataPlane(env: NodeJS.ProcessEnv = process.env): DataPlane | undefined {
  const value = env.BERTH_DATA_PLANE;
  return value === 'js' || value === 'native' ? value : undefined;
}

/**
 * Serves the listening socket `fd` (from bindSocket or the helper). Takes
 * ownership of `fd`: it is closed by close(), or right away if listening fails.
 * `options.plane` (else BERTH_DATA_PLANE) picks the data plane; 'native'
 * then fails rather than fall back, unset falls back to JS when the native
 * plane cannot start.
 */
async function listen(fd: number, target: ForwardTarget, options: ForwarderOptions = {}): Promise<Forwarder> {
  const plane = options.plane ?? requestedDataPlane();
  if (plane === 'js') return JsForwarder.listen(fd, target, options);
  try {
    return NativeForwarder.listen(fd, target, options);
  } catch (error) {
    // Only "cannot run here" falls back (the fd is still open then); an fd no plane can serve was closed and says why.
    if (plane === 'native' || !(error instanceof NativePlaneUnavailable)) throw error;
    return JsForwarder.listen(fd, target, options);
  }
}

export const Forwarder = { listen };
