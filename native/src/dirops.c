/*
 * symlinkAt, renameAt, unlinkAt and fsyncDirectory: change entries of an
 * already opened directory. None of these calls follows a symlink at the
 * final name (symlinkat and renameat replace or create the link itself,
 * unlinkat removes it), and the names are single components, so nothing
 * outside the directory the caller opened and verified can be touched.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

napi_value berth_symlink_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char target[BERTH_MAX_PATH + 1];
  char name[BERTH_MAX_NAME + 1];
  size_t target_len = 0;
  int dirfd;
  /* The target is stored, not resolved, so any non-empty text is allowed;
   * only an empty one (ENOENT on Linux) or a NUL (silently cut) is not. */
  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_text(env, argv[0], "target", target, BERTH_MAX_PATH,
                      &target_len) ||
      !berth_get_fd(env, argv[1], "dirfd", &dirfd) ||
      !berth_get_name(env, argv[2], "name", name))
    return NULL;
  /* EEXIST when anything (even a dangling symlink) is already there:
   * replacing is renameAt's job, so it stays atomic. */
  if (symlinkat(target, dirfd, name) != 0) {
    berth_throw_errno_path(env, errno, "symlinkat", name, NULL);
    return NULL;
  }
  return NULL; /* undefined */
}

napi_value berth_rename_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char from[BERTH_MAX_NAME + 1];
  char to[BERTH_MAX_NAME + 1];
  int dirfd;
  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_fd(env, argv[0], "dirfd", &dirfd) ||
      !berth_get_name(env, argv[1], "from", from) ||
      !berth_get_name(env, argv[2], "to", to))
    return NULL;
  /* Same dirfd on both sides: an entry can only be renamed within the
   * directory the caller verified. rename(2) replaces a symlink at `to`
   * itself (it never moves into the directory a link points to). */
  if (renameat(dirfd, from, dirfd, to) != 0) {
    berth_throw_errno_path(env, errno, "renameat", from, to);
    return NULL;
  }
  return NULL;
}

napi_value berth_unlink_at(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[BERTH_MAX_NAME + 1];
  int dirfd;
  if (!berth_get_args(env, info, 2, argv) ||
      !berth_get_fd(env, argv[0], "dirfd", &dirfd) ||
      !berth_get_name(env, argv[1], "name", name))
    return NULL;
  /* Flags 0, never AT_REMOVEDIR: directories fail (EISDIR on Linux, EPERM
   * on macOS), so a swapped-in directory can never be removed by mistake. */
  if (unlinkat(dirfd, name, 0) != 0) {
    berth_throw_errno_path(env, errno, "unlinkat", name, NULL);
    return NULL;
  }
  return NULL;
}

/* Flush the directory itself; fsync alone on macOS only reaches the drive's
 * cache, so ask for F_FULLFSYNC there first (as libuv's fs.fsync does) and
 * fall back where the file system does not support it. */
static int sync_directory(int fd) {
#if defined(__APPLE__) && defined(F_FULLFSYNC)
  if (fcntl(fd, F_FULLFSYNC) == 0)
    return 0;
#endif
  return fsync(fd);
}

napi_value berth_fsync_directory(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct stat st;
  int dirfd;
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "dirfd", &dirfd))
    return NULL;
  memset(&st, 0, sizeof(st));
  if (fstat(dirfd, &st) != 0) {
    berth_throw_errno(env, errno, "fstat");
    return NULL;
  }
  /* A file fd here means the caller mixed up descriptors: the rename it
   * wants to make durable would not be. */
  if (!S_ISDIR(st.st_mode)) {
    berth_throw_errno(env, ENOTDIR, "fsync");
    return NULL;
  }
  /* Not retried on EINTR: after a failed fsync the kernel may already have
   * dropped the dirty state, so a retry could report a false success. */
  if (sync_directory(dirfd) != 0) {
    berth_throw_errno(env, errno, "fsync");
    return NULL;
  }
  return NULL;
}
