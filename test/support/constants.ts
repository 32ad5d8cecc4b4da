import { join } from 'node:path';

/** The checkout's root; __dirname works both under Vitest and under Playwright's CommonJS loader. */
export const REPO_ROOT = join(__dirname, '../..');

export const TEST_USERS = { test: 'berth-test', other: 'berth-other' } as const;

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}
