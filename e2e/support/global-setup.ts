import { startPolkit } from '../../test/support/polkit';
import { TEST_USERS } from '../../test/support/constants';
import { ensureUser } from '../../test/support/users';

/** The machine the specs share: the test user, and a private system bus with polkitd for pkexec. */
export default async function globalSetup(): Promise<void> {
  if (process.env.BERTH_E2E_APP === undefined) throw new Error('run the e2e suite through npm test (e2e/run.sh sets up its machine)');
  ensureUser(TEST_USERS.test);
  await startPolkit();
}
