/*
 * openFileAt(dirfd, name, mode, permissions): open one regular file of an
 * already opened directory, never through a symlink.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(O_NOFOLLOW) || !defined(O_CLOEXEC) || !defined(O_NOCTTY)
#error "O_NOFOLLOW, O_CLOEXEC and O_NOCTTY are required"
#endif

/* Always added: O_NOFOLLOW so a symlink at `name` fails (ELOOP) instead of
 * opening its target; O_CLOEXEC so no child inherits the fd; O_NOCTTY so a
 * terminal can never become the helper's controlling tty; O_NONBLOCK only
 * while opening, so a FIFO cannot block the helper forever (it is refused
 * right after, like every other non-regular file). */
#define ALWAYS_FLAGS (O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

typedef enum { MODE_READ, MODE_CREATE_EXCLUSIVE, MODE_OVERWRITE } open_mode;

static bool get_mode(napi_env env, napi_value value, open_mode *mode) {
  char text[24];
  size_t len = 0;
  bool too_long = false, has_nul = false;
  if (!berth_get_string(env, value, "mode", text, sizeof(text), &len,
                        &too_long, &has_nul))
    return false;
  if (!too_long && !has_nul && strcmp(text, "read") == 0)
    *mode = MODE_READ;
  else if (!too_long && !has_nul && strcmp(text, "create-exclusive") == 0)
    *mode = MODE_CREATE_EXCLUSIVE;
  else if (!too_long && !has_nul && strcmp(text, "overwrite") == 0)
    *mode = MODE_OVERWRITE;
  else {
    berth_throw_invalid_value(
        env, "mode must be 'read', 'create-exclusive' or 'overwrite'");
    return false;
  }
  return true;
}

/* `permissions` is required for 'create-exclusive' (no silent default mode
 * for a file root creates) and refused for the other modes, where it would
 * do nothing and the caller clearly expected it to. */
static bool get_permissions(napi_env env, napi_value value, open_mode mode,
                            mode_t *out) {
  napi_valuetype type;
  int64_t bits;
  if (mode == MODE_CREATE_EXCLUSIVE) {
    /* 0..0777: no setuid, setgid or sticky bit on a file root creates. */
    if (!berth_get_int(env, value, "permissions", 0, 0777, &bits))
      return false;
    *out = (mode_t)bits;
    return true;
  }
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_undefined) {
    berth_throw_invalid_value(
        env, "permissions is only accepted with mode 'create-exclusive'");
    return false;
  }
  *out = 0;
  return true;
}

/* Refuse anything but a regular file (EISDIR for directories, EINVAL for
 * FIFOs, sockets and devices), then drop O_NONBLOCK again. 0, or an errno
 * with *syscall set; the fd is left open either way. */
static int check_regular(int fd, const char **syscall) {
  struct stat st;
  int flags;
  memset(&st, 0, sizeof(st));
  *syscall = "fstat";
  if (fstat(fd, &st) != 0)
    return errno;
  *syscall = "openat";
  if (S_ISDIR(st.st_mode))
    return EISDIR;
  if (!S_ISREG(st.st_mode))
    return EINVAL;
  *syscall = "fcntl";
  flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    return errno;
  return 0;
}

napi_value berth_open_file_at(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  char name[BERTH_MAX_NAME + 1];
  const char *syscall = "openat";
  open_mode mode = MODE_READ;
  mode_t permissions = 0;
  int dirfd, fd, flags, err;
  if (!berth_get_args(env, info, 4, argv) ||
      !berth_get_fd(env, argv[0], "dirfd", &dirfd) ||
      !berth_get_name(env, argv[1], "name", name) ||
      !get_mode(env, argv[2], &mode) ||
      !get_permissions(env, argv[3], mode, &permissions))
    return NULL;
  switch (mode) {
  case MODE_CREATE_EXCLUSIVE:
    /* O_EXCL also fails (EEXIST) on a dangling symlink: nothing is ever
     * created at a link's target. The umask still applies, as for open(2). */
    flags = O_WRONLY | O_CREAT | O_EXCL;
    break;
  case MODE_OVERWRITE:
    /* No O_CREAT: only a file that already exists is rewritten. */
    /* No O_TRUNC: the caller decides the final size (ftruncate), so a write
     * that fails midway (a full disk) can leave the old bytes in place. */
    flags = O_WRONLY;
    break;
  default:
    flags = O_RDONLY;
    break;
  }
  fd = openat(dirfd, name, flags | ALWAYS_FLAGS, permissions);
  if (fd < 0) {
    berth_throw_errno_path(env, errno, "openat", name, NULL);
    return NULL;
  }
  err = check_regular(fd, &syscall);
  if (err != 0) {
    (void)close(fd);
    berth_throw_errno_path(env, err, syscall, name, NULL);
    return NULL;
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    (void)close(fd);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}
