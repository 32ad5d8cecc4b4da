/* Connecting a pair's target socket (pump.h): the first address from
 * pumpAdd, and the name's other address when that one fails. */
#include "pump.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

int pump_connect(const struct sockaddr_storage *ss, socklen_t len, int *fd) {
  int on = 1;
  *fd = berth_socket_cloexec(ss->ss_family, SOCK_STREAM, true);
  if (*fd < 0)
    return errno;
  /* As the JS forwarder's noDelay: small writes go out at once. */
  (void)setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  /* Non-blocking: EINPROGRESS, and the pump thread learns the outcome from
   * the socket's first writability (SO_ERROR). */
  if (connect(*fd, (const struct sockaddr *)ss, len) != 0 &&
      errno != EINPROGRESS) {
    int err = errno;
    close(*fd);
    *fd = -1;
    return err;
  }
  return 0;
}

/* The target's first address failed: the name's other one replaces it, as
 * net.connect's autoSelectFamily does. False when there is none, or it
 * cannot even start connecting (the pair then fails with the first error). */
bool pump_try_other_address(pump_pair *p) {
  int fd;
  if (p->alt_len == 0)
    return false;
  socklen_t len = p->alt_len;
  p->alt_len = 0;
  if (pump_connect(&p->alt, len, &fd) != 0)
    return false;
  close(p->fd[1]); /* also drops it from the poller */
  p->fd[1] = fd;
  p->dir[0].dst = fd;
  p->dir[1].src = fd;
  /* Registered after connect(): a connect that already finished is seen. */
  return pump_poller_add_fd(p, 1) == 0;
}
