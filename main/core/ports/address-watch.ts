import { closeSync } from 'node:fs';
import { drainAddressWatch, openAddressWatch, pollStart, pollStop, POLL_READABLE, type PollHandle } from '../../../native';
import type { AddressWatcher } from './retry';

/**
 * The OS's own word that this machine's addresses changed (Linux netlink,
 * macOS routing socket: native/src/addrwatch.c), on Node's event loop.
 * Opened only while a mapping waits for an address (retry.ts), so nothing
 * runs otherwise. Throws when the socket cannot be opened; the caller then
 * relies on its back-off alone.
 */
export function watchAddresses(onChange: () => void, onLost: () => void): AddressWatcher {
  const fd = openAddressWatch();
  let handle: PollHandle | undefined;
  const close = (): void => {
    if (handle === undefined) return;
    // pollStop before close: libuv must never poll a closed (or reused) descriptor.
    pollStop(handle);
    handle = undefined;
    closeSync(fd);
  };
  try {
    handle = pollStart(fd, POLL_READABLE, (error) => {
      if (handle === undefined) return;
      let changes = 0;
      let failed = error !== null;
      if (!failed) {
        try {
          changes = drainAddressWatch(fd);
        } catch {
          failed = true;
        }
      }
      if (failed) {
        // The watch is broken (the OS said so): let it go; the back-off goes on without it.
        close();
        onLost();
      } else if (changes > 0) {
        onChange();
      }
    });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return { close };
}
