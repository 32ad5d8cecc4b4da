/*
 * File descriptor flag helpers. Every descriptor the addon creates or
 * receives must be close-on-exec, so a child process spawned by the app (or
 * by the root helper) never inherits a socket by accident.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int berth_set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0)
    return -1;
  if (flags & FD_CLOEXEC)
    return 0;
  return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int berth_set_nonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0)
    return -1;
  if (flags & O_NONBLOCK)
    return 0;
  return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void berth_close_keep_errno(int fd) {
  int saved = errno;
  /* Never retry close() on EINTR: on Linux the fd is already gone and a
   * retry could close a descriptor another thread just opened. */
  (void)close(fd);
  errno = saved;
}

int berth_socket_cloexec(int domain, int type, bool nonblock) {
  int fd;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  /* Linux (and the BSDs): set the flags atomically, so a fork+exec in another
   * thread can never observe the descriptor without FD_CLOEXEC. */
  fd = socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  return fd;
#else
  /* macOS has no SOCK_CLOEXEC: set the flags right away. Libuv and Node do
   * the same; the window is unavoidable there. */
  fd = socket(domain, type, 0);
  if (fd < 0)
    return -1;
  if (berth_set_cloexec(fd) != 0 || (nonblock && berth_set_nonblock(fd) != 0)) {
    berth_close_keep_errno(fd);
    return -1;
  }
#ifdef SO_NOSIGPIPE
  {
    /* macOS has no MSG_NOSIGNAL: ask the socket itself never to raise
     * SIGPIPE (which would kill the process) when the peer is gone. */
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on)) != 0) {
      berth_close_keep_errno(fd);
      return -1;
    }
  }
#endif
  return fd;
#endif
}

/* Close with a reset: the client learns at once that it will not be served. */
void berth_reset_close(int fd) {
  struct linger lg = {1, 0};
  int saved = errno;
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
  errno = saved;
}

int berth_set_nosigpipe(int fd) {
#ifdef SO_NOSIGPIPE
  int on = 1;
  return setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#else
  /* Linux: the pump thread writes with splice(2), which has no
   * MSG_NOSIGNAL; the thread runs with every signal blocked (pump.c), and
   * Node ignores SIGPIPE anyway, so a gone peer is just EPIPE. */
  (void)fd;
  return 0;
#endif
}
