/*
 * statAt(dirfd, name) and readlinkAt(dirfd, name): look at one entry of an
 * already opened directory without ever following a symlink.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if !defined(AT_SYMLINK_NOFOLLOW)
/* A stat that follows symlinks would describe the wrong file. */
#error "fstatat(AT_SYMLINK_NOFOLLOW) is required"
#endif

static const char *type_name(mode_t mode) {
  switch (mode & S_IFMT) {
  case S_IFREG:
    return "file";
  case S_IFDIR:
    return "directory";
  case S_IFLNK:
    return "symlink";
  case S_IFSOCK:
    return "socket";
  case S_IFIFO:
    return "fifo";
  case S_IFCHR:
    return "char";
  case S_IFBLK:
    return "block";
  default:
    return "unknown";
  }
}

napi_status berth_set_number(napi_env env, napi_value obj, const char *key,
                             double value) {
  napi_value v;
  napi_status status = napi_create_double(env, value, &v);
  return status == napi_ok ? napi_set_named_property(env, obj, key, v)
                           : status;
}

napi_value berth_make_file_stat(napi_env env, const struct stat *st) {
  napi_value obj, type;
  double mtime_ms;
#if defined(__APPLE__)
  mtime_ms = (double)st->st_mtimespec.tv_sec * 1e3 +
             (double)st->st_mtimespec.tv_nsec / 1e6;
#else
  mtime_ms =
      (double)st->st_mtim.tv_sec * 1e3 + (double)st->st_mtim.tv_nsec / 1e6;
#endif
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_string_utf8(env, type_name(st->st_mode),
                                          NAPI_AUTO_LENGTH, &type));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "type", type));
  /* Doubles, as in Node's fs.Stats: ids and sizes are unsigned and may not
   * fit an int32 (inode and device numbers above 2^53 lose precision, as
   * they do in Node). */
  BERTH_NAPI(env, berth_set_number(env, obj, "uid", (double)st->st_uid));
  BERTH_NAPI(env, berth_set_number(env, obj, "gid", (double)st->st_gid));
  /* Permission bits only (setuid/setgid/sticky included); the file type is
   * in `type`. */
  BERTH_NAPI(env,
             berth_set_number(env, obj, "mode", (double)(st->st_mode & 07777)));
  BERTH_NAPI(env, berth_set_number(env, obj, "nlink", (double)st->st_nlink));
  BERTH_NAPI(env, berth_set_number(env, obj, "size", (double)st->st_size));
  BERTH_NAPI(env, berth_set_number(env, obj, "ino", (double)st->st_ino));
  BERTH_NAPI(env, berth_set_number(env, obj, "dev", (double)st->st_dev));
  BERTH_NAPI(env, berth_set_number(env, obj, "mtimeMs", mtime_ms));
  return obj;
}

/* Shared argument reading for (dirfd, name) calls. */
static bool get_dirfd_and_name(napi_env env, napi_callback_info info,
                               int *dirfd, char *name) {
  napi_value argv[2];
  return berth_get_args(env, info, 2, argv) &&
         berth_get_fd(env, argv[0], "dirfd", dirfd) &&
         berth_get_name(env, argv[1], "name", name);
}

napi_value berth_stat_at(napi_env env, napi_callback_info info) {
  char name[BERTH_MAX_NAME + 1];
  int dirfd;
  struct stat st;
  napi_value result;
  if (!get_dirfd_and_name(env, info, &dirfd, name))
    return NULL;
  memset(&st, 0, sizeof(st));
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    /* "Nothing there" is an answer, not a failure. Every other error (EBADF,
     * ENOTDIR for a dirfd that is no directory, EACCES) is thrown. */
    if (err == ENOENT) {
      BERTH_NAPI(env, napi_get_null(env, &result));
      return result;
    }
    berth_throw_errno_path(env, err, "fstatat", name, NULL);
    return NULL;
  }
  return berth_make_file_stat(env, &st);
}

napi_value berth_readlink_at(napi_env env, napi_callback_info info) {
  char name[BERTH_MAX_NAME + 1];
  /* One spare byte: a result that fills the whole buffer may be truncated. */
  char target[BERTH_MAX_PATH + 2];
  char check[BERTH_MAX_PATH + 2];
  size_t length, check_len = 0;
  ssize_t n;
  int dirfd;
  napi_value result;
  if (!get_dirfd_and_name(env, info, &dirfd, name))
    return NULL;
  /* Not a symlink: EINVAL, straight from the kernel. */
  n = readlinkat(dirfd, name, target, sizeof(target) - 1);
  if (n < 0) {
    berth_throw_errno_path(env, errno, "readlinkat", name, NULL);
    return NULL;
  }
  length = (size_t)n;
  /* readlinkat never says it truncated; a full buffer means it may have,
   * and a shortened target is a different target. */
  if (length >= sizeof(target) - 1) {
    berth_throw_errno_path(env, ENAMETOOLONG, "readlinkat", name, NULL);
    return NULL;
  }
  target[length] = '\0';
  BERTH_NAPI(env, napi_create_string_utf8(env, target, length, &result));
  /* Invalid UTF-8 becomes U+FFFD in JS, so a caller comparing targets would
   * compare something else than what is on disk: refuse instead (EILSEQ).
   * The round trip is exact precisely when the bytes were valid UTF-8. */
  BERTH_NAPI(env, napi_get_value_string_utf8(env, result, check, sizeof(check),
                                             &check_len));
  if (check_len != length || memcmp(check, target, length) != 0) {
    berth_throw_errno_path(env, EILSEQ, "readlinkat", name, NULL);
    return NULL;
  }
  return result;
}
