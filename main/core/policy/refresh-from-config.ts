import type { OperationArgs, OperationName, OperationResult } from '../../../common/protocol';
import { HelperUnavailableError, type HelperClient } from '../../helper-client';
import type { Logger } from '../log';
import { policyUrlFromConfig, refreshPolicy } from './fetch';
import type { FetchOutcome } from './refetch-schedule';

export interface PolicyFromConfigOptions {
  configPath: string;
  stateDir: string;
  /** A connection to the helper, or undefined when none is usable. Asked only when there is a policy to store. */
  connect: () => Promise<HelperClient | undefined>;
  log: Logger;
}

/**
 * The backend's periodic policy refresh: the admin-set policy URL (from the
 * helper's config) fetched and, when it offers a newer policy, handed to the
 * helper. The helper is connected only then: a refresh that finds the
 * policy already in force does not start (or keep up) an idle helper.
 * Failures are logged; the cached policy stays. The outcome says when to try
 * again (refetch-schedule.ts).
 */
export async function refreshPolicyFromConfig(options: PolicyFromConfigOptions): Promise<FetchOutcome> {
  const { configPath, stateDir, log } = options;
  let url: string | null;
  try {
    url = policyUrlFromConfig(configPath);
  } catch (error) {
    log.warn((error as Error).message);
    return 'failed';
  }
  if (url === null) return 'no-url';
  let client: HelperClient | undefined;
  const helper = {
    async request<Op extends OperationName>(op: Op, args: OperationArgs<Op>): Promise<OperationResult<Op>> {
      client ??= await options.connect();
      if (client === undefined) throw new HelperUnavailableError('not-running', 'the helper is not running');
      return client.request(op, args);
    },
  };
  try {
    const result = await refreshPolicy({ url, helper, configPath, stateDir });
    log.info(`policy refreshed from ${new URL(url).origin}`);
    return result.status;
  } catch (error) {
    log.warn(`policy refresh failed: ${(error as Error).message}`);
    return 'failed';
  } finally {
    client?.close();
  }
}
