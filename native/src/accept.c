/*
 * acceptConnections(listenFd, max) and resetSocket(fd): the native data
 * plane's accept side, run by JavaScript on Node's loop (the listener is
 * watched with pollStart), so the accept policy stays in JS (pump.h).
 */
#include "berth.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ACCEPT 1024

napi_value berth_accept_connections(napi_env env, napi_callback_info info) {
  napi_value argv[2], result, value;
  int fd;
  int64_t max;
  uint32_t count = 0;
  if (!berth_get_args(env, info, 2, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd) ||
      !berth_get_int(env, argv[1], "max", 1, MAX_ACCEPT, &max))
    return NULL;
  /* A blocking accept() would freeze Node's event loop while nobody
   * connects: the listener is switched to non-blocking first (as pollStart,
   * which watches it, does anyway). */
  if (berth_set_nonblock(fd) != 0) {
    berth_throw_errno(env, errno, "fcntl");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_array(env, &result));
  while (count < max) {
    int conn;
#ifdef __linux__
    /* SOCK_NONBLOCK: the pump thread never blocks on it; SOCK_CLOEXEC:
     * never inherited by a child, set atomically with the accept. */
    conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    /* macOS has no accept4: the flags right after (Node and libuv do the
     * same), and SO_NOSIGPIPE since macOS has no MSG_NOSIGNAL either: a
     * write to a gone client must be EPIPE, not a signal that kills us. */
    conn = accept(fd, NULL, NULL);
    if (conn >= 0 && (berth_set_cloexec(conn) != 0 ||
                      berth_set_nonblock(conn) != 0 || berth_set_nosigpipe(conn) != 0)) {
      berth_reset_close(conn);
      continue;
    }
#endif
    if (conn < 0) {
      int err = errno;
      if (err == EINTR)
        continue;
      /* A client that left before accept: just the next one. */
      if (err == ECONNABORTED || err == EPROTO)
        continue;
      if (err == EAGAIN || err == EWOULDBLOCK)
        break;
      /* Anything else (EMFILE...): report it unless some fds are in hand;
       * the next call meets it again. */
      if (count > 0)
        break;
      berth_throw_errno(env, err, "accept");
      return NULL;
    }
    if (napi_create_int32(env, conn, &value) != napi_ok ||
        napi_set_element(env, result, count, value) != napi_ok) {
      berth_reset_close(conn);
      berth_throw_napi_failure(env, napi_generic_failure);
      return NULL;
    }
    count++;
  }
  return result;
}

napi_value berth_reset_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct stat st;
  int fd;
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  /* Only sockets: closing some other fd of the process by mistake must fail. */
  if (fstat(fd, &st) != 0) {
    berth_throw_errno(env, errno, "fstat");
    return NULL;
  }
  if (!S_ISSOCK(st.st_mode)) {
    berth_throw_errno(env, ENOTSOCK, "resetSocket");
    return NULL;
  }
  berth_reset_close(fd);
  return NULL;
}
