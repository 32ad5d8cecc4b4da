// Reads the running `berth app`'s own figures for the forwarding benchmark:
// run as the app's user (the control socket serves only its own uid), it
// answers each line on stdin ("read" or "reset") with one JSON line, the
// result of the API's `app.metrics` (memory; event-loop delay when the app
// runs with BERTH_LOOP_DELAY=1), or {"error": "..."}. A connection per
// line: the control socket closes connections idle for 30 s.
import { createInterface } from 'node:readline';
import { userPaths } from '../common/user-paths';
import { ControlClient } from '../main/core/control/client';

async function metrics(reset: boolean): Promise<unknown> {
  const client = await ControlClient.connect(userPaths().controlSocketPath);
  try {
    return await client.call('app.metrics', { reset });
  } finally {
    client.close();
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = line.trim();
  const answer =
    command === 'read' || command === 'reset'
      ? metrics(command === 'reset').catch((error: unknown) => ({ error: (error as Error).message }))
      : Promise.resolve({ error: `unknown command "${command.slice(0, 20)}": read or reset` });
  void answer.then((a) => process.stdout.write(`${JSON.stringify(a)}\n`));
});
process.stdout.write('{"ready":true}\n');
