/*
 * connectUnix(path): a non-blocking, close-on-exec AF_UNIX stream socket
 * connected to `path`.
 */
#include "berth.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

napi_value berth_connect_unix(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un addr;
  char path[sizeof(addr.sun_path)];
  size_t len = 0;
  bool too_long = false, has_nul = false;
  int fd, rc;
  napi_value result;

  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_string(env, argv[0], "path", path, sizeof(path), &len,
                        &too_long, &has_nul))
    return NULL;
  /* Checked before anything is copied into sun_path: the path plus its NUL
   * terminator must fit, or the kernel would see a different path. */
  if (too_long) {
    berth_throw_errno(env, ENAMETOOLONG, "connect");
    return NULL;
  }
  /* Empty strings and leading NULs (Linux abstract namespace) are refused:
   * the helper socket is always a filesystem path protected by permissions. */
  if (len == 0) {
    berth_throw_type(env, "path must be a non-empty string");
    return NULL;
  }
  if (has_nul) {
    berth_throw_type(env, "path must not contain NUL bytes");
    return NULL;
  }

  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len + 1);
#if defined(__APPLE__) || defined(__FreeBSD__)
  addr.sun_len = (unsigned char)sizeof(addr); /* BSD sockaddrs carry a length */
#endif

  fd = berth_socket_cloexec(AF_UNIX, SOCK_STREAM, true);
  if (fd < 0) {
    berth_throw_errno(env, errno, "socket");
    return NULL;
  }
  /* UNIX-domain connects complete (or fail) immediately, even non-blocking:
   * EAGAIN means the listener's backlog is full, and is reported as is.
   * EINTR is not retried: a second connect() would not restart the attempt. */
  rc = connect(fd, (struct sockaddr *)&addr, (socklen_t)sizeof(addr));
  if (rc != 0) {
    int err = errno;
    close(fd);
    berth_throw_errno(env, err, "connect");
    return NULL;
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}
