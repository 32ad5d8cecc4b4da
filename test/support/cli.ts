import type { TestUser } from './constants';
import { finished, spawnFixtureAs, type Finished } from './processes';

/** Runs the bundled `berth` CLI as an unprivileged user, as a person would. */
export function runCliAs(user: TestUser, args: string[]): Promise<Finished> {
  return finished(spawnFixtureAs(user, 'cli/berth', args));
}
