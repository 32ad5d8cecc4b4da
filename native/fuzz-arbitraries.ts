/**
 * fast-check arbitraries shared by the fuzz tests (not a test file itself):
 * garbage of every kind, and plausible arguments for the *at() exports.
 */
import { AT_FUNCTIONS } from './loader';
import fc from 'fast-check';

/** Any value at all, with extra weight on the edges of each parameter type. */
export function garbage(): fc.Arbitrary<unknown> {
  const sparse = [1, 2];
  sparse.length = 10;
  return fc.oneof(
    fc.anything(),
    fc.integer({ min: -5, max: 2 ** 31 + 5 }),
    fc.double(),
    fc.constantFrom(0, 1, 2, 3, 16, 17, 65535, 65536, 2 ** 31 - 1, 2 ** 53, -0, NaN, Infinity, -Infinity, 1.5),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    fc.array(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.anything()), { maxLength: 20 }),
    fc.constantFrom(sparse, new Array(2 ** 32 - 1), new Float64Array(2), Symbol('s'), 10n),
    fc.func(fc.anything()),
    fc.constant(Object.freeze({ fd: 3 })),
  );
}

/** Mostly plausible, sometimes garbage: reaches the syscalls, not only the argument checks. */
export function maybe(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: garbage() });
}

export const AT_EXPORTS = AT_FUNCTIONS;
export type AtExportName = (typeof AT_EXPORTS)[number];

/** Position of the directory descriptor in each *at() export's arguments. */
export const DIRFD_INDEX: Partial<Record<string, number>> = {
  statAt: 0,
  readlinkAt: 0,
  symlinkAt: 1,
  renameAt: 0,
  unlinkAt: 0,
  openFileAt: 0,
  fsyncDirectory: 0,
};

/** Descriptors and paths the *at() arguments are drawn from. */
export interface AtFixture {
  /** A scratch directory (the only one entries may be changed in) and its fd. */
  dir: string;
  dirFd: number;
  /** Descriptors that are not directories. */
  fileFd: number;
  socketFd: number;
}

/** Mostly plausible arguments for each *at() export. */
export function atShapes({ dir, dirFd, fileFd, socketFd }: AtFixture): Record<AtExportName, fc.Arbitrary<unknown>[]> {
  const dirfd = maybe(
    fc.oneof({ weight: 3, arbitrary: fc.constant(dirFd) }, { weight: 1, arbitrary: fc.constantFrom(fileFd, socketFd, 2 ** 31 - 1) }),
  );
  // Mostly names that exist (or get created) in the scratch directory, so
  // the calls reach the kernel, not only the argument checks.
  const entry = maybe(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('f', 'l', 'd', 'ld', 'new', 'n2') },
      { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
      { weight: 1, arbitrary: fc.constantFrom('.', '..', '', 'a/b', 'x\0', 'n'.repeat(256), '\ud800') },
    ),
  );
  return {
    openDirectoryNoFollow: [
      maybe(
        fc.oneof(
          fc.string().map((text) => `/${text}`),
          fc.constantFrom(dir, '/', '/tmp', `${dir}/l`, `${dir}/ld`, `${dir}/d`, `${dir}/../x`),
          fc.constantFrom(`${dir}/`, '//', 'relative', `/${'a'.repeat(256)}`, '/x'.repeat(2049), '/\0', '/\ud800'),
        ),
      ),
    ],
    statAt: [dirfd, entry],
    readlinkAt: [dirfd, entry],
    symlinkAt: [maybe(fc.oneof(fc.string(), fc.constantFrom('f', '', 'x\0', 'y'.repeat(4097)))), dirfd, entry],
    renameAt: [dirfd, entry, entry],
    unlinkAt: [dirfd, entry],
    openFileAt: [
      dirfd,
      entry,
      maybe(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('read', 'create-exclusive', 'overwrite') },
          { weight: 1, arbitrary: fc.constantFrom('write', '', 'read\0') },
        ),
      ),
      // undefined is the valid permissions for 'read' and 'overwrite'.
      maybe(fc.oneof(fc.integer({ min: -1, max: 0o1000 }), fc.constant(undefined))),
    ],
    fsyncDirectory: [dirfd],
  };
}
