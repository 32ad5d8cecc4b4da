import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const TEST_USERS = { test: 'berth-test', other: 'berth-other' } as const;

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}
