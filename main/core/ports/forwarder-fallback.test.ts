/**
 * The JS plane takes over where the native one cannot start. Its own file
 * (its own process): the pump thread must not have started yet, and it is
 * made unable to start for real, with no descriptor left for its poller.
 */
import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder } from './forwarder';
import { connect, received, runCleanups, cleanups, target } from './forwarder-test-helpers';
import { listeningFd } from './test-support';

afterEach(runCleanups);

/** Opens /dev/null until the descriptor table is full; returns the fds, to be closed by the caller. */
function exhaustDescriptors(): number[] {
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
      return held;
    }
  }
}

describe('when the native data plane cannot start', () => {
  it('the forwarder runs on the JS plane and forwards; the native plane starts once it can', async () => {
    const echo = await target((socket) => socket.pipe(socket));
    const { fd, port } = listeningFd();
    const spare = listeningFd();
    const held = exhaustDescriptors();
    let fwd: Forwarder;
    try {
      // Asked for explicitly, the native plane refuses, and leaves the fd to whoever serves it next.
      await expect(Forwarder.listen(fd, { host: '127.0.0.1', port: echo.port }, { plane: 'native' })).rejects.toThrow(
        /native data plane cannot start: EMFILE/,
      );
      fwd = await Forwarder.listen(fd, { host: '127.0.0.1', port: echo.port });
    } finally {
      held.forEach((h) => closeSync(h));
    }
    cleanups.push(() => fwd.close());
    expect(fwd.plane).toBe('js');
    const client = await connect(port);
    const reply = received(client);
    client.end('still served');
    expect((await reply).data.toString()).toBe('still served');

    // Descriptors are back: the next forwarder gets the pump thread after all.
    const native = await Forwarder.listen(spare.fd, { host: '127.0.0.1', port: echo.port });
    cleanups.push(() => native.close());
    expect(native.plane).toBe('native');
    const second = await connect(spare.port);
    const secondReply = received(second);
    second.end('native now');
    expect((await secondReply).data.toString()).toBe('native now');
  });
});
