/*
 * openAddressWatch / drainAddressWatch: the OS says when this machine's
 * addresses change, so a published port waiting for its address (a VPN,
 * Wi-Fi, docker0 not up yet, IPv6 turned back on) is bound at once instead
 * of at its next back-off. Node has no API for either socket.
 *
 * Linux: a NETLINK_ROUTE socket in the IPv4 and IPv6 address groups.
 * macOS: a PF_ROUTE socket, counting RTM_NEWADDR / RTM_DELADDR.
 *
 * The messages are counted, never trusted for their content: the caller
 * simply tries bind(2) again, which is the real check. Both descriptors
 * are close-on-exec and non-blocking.
 */
#include "berth.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#if defined(__linux__)
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#elif defined(__APPLE__)
#include <net/if.h>
#include <net/route.h>
#endif

/* One read's buffer: netlink batches messages into datagrams of at most a
 * page (NLMSG_GOODSIZE), a route message is a few hundred bytes. Anything
 * longer is truncated by the kernel and still counted. */
#define WATCH_BUFFER 8192
/* Reads per drain: a flood of changes cannot hold the JS thread here. What
 * is left keeps the descriptor readable, so the poll calls again. */
#define WATCH_MAX_READS 64

#if defined(__linux__)
/* berth_socket_cloexec opens protocol 0, which is NETLINK_ROUTE. */
_Static_assert(NETLINK_ROUTE == 0, "NETLINK_ROUTE must be protocol 0");
#endif

napi_value berth_open_address_watch(napi_env env, napi_callback_info info) {
  napi_value result;
  int fd;
  (void)info; /* no arguments; extra ones are ignored, as in JS */
#if defined(__linux__)
  struct sockaddr_nl addr;
  fd = berth_socket_cloexec(AF_NETLINK, SOCK_RAW, true);
  if (fd < 0) {
    berth_throw_errno(env, errno, "socket");
    return NULL;
  }
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  /* Addresses only: a link going up or down does not change what bind(2)
   * accepts (Linux binds to an address on a down interface). Joining these
   * groups needs no privilege. */
  addr.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(fd, (struct sockaddr *)&addr, (socklen_t)sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    berth_throw_errno(env, err, "bind");
    return NULL;
  }
#elif defined(__APPLE__)
  /* Every routing message comes to a PF_ROUTE socket; drain counts the
   * address ones. We never write to it. */
  fd = berth_socket_cloexec(PF_ROUTE, SOCK_RAW, true);
  if (fd < 0) {
    berth_throw_errno(env, errno, "socket");
    return NULL;
  }
#else
  berth_throw_errno(env, ENOTSUP, "socket");
  return NULL;
#endif
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}

/* Is fd an address watch? drain reads and discards: on any other socket it
 * would eat someone else's data. 0, or an errno (EINVAL: not a watch). */
static int check_watch(int fd) {
  int value = 0;
  socklen_t len = (socklen_t)sizeof(value);
#if defined(__linux__)
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len) != 0)
    return errno;
  if (value != AF_NETLINK)
    return EINVAL;
  len = (socklen_t)sizeof(value);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &len) != 0)
    return errno;
  return value == NETLINK_ROUTE ? 0 : EINVAL;
#else
  /* macOS has no SO_DOMAIN; a raw socket is either ours or root's own,
   * never a stream or datagram socket whose data matters to someone. */
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) != 0)
    return errno;
  return value == SOCK_RAW ? 0 : EINVAL;
#endif
}

#if defined(__linux__)
/* Address messages in one datagram (at least 1 if it was cut short). */
static int count_messages(const char *buf, size_t size, bool truncated) {
  const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)buf;
  size_t left = size;
  int count = 0;
  /* NLMSG_OK checks that each header and its stated length fit in what
   * is left, so a short or lying length ends the walk. */
  for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
    if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR)
      count++;
  }
  return count == 0 && truncated ? 1 : count;
}
#endif

/* One read; >= 0 address events, -1 with errno (EAGAIN: nothing left). */
static int read_once(int fd, char *buf, size_t size) {
#if defined(__linux__)
  struct sockaddr_nl from;
  struct iovec iov = {buf, size};
  struct msghdr msg;
  ssize_t n;
  memset(&msg, 0, sizeof(msg));
  memset(&from, 0, sizeof(from));
  msg.msg_name = &from;
  msg.msg_namelen = (socklen_t)sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) {
    /* The socket's buffer overflowed: events were lost, so something
     * changed. Reading goes on; the overflow is reported once. */
    return errno == ENOBUFS ? 1 : -1;
  }
  /* Only the kernel (port 0) speaks for the address table; a message sent
   * by a process is dropped. */
  if (from.nl_pid != 0)
    return 0;
  return count_messages(buf, (size_t)n, (msg.msg_flags & MSG_TRUNC) != 0);
#elif defined(__APPLE__)
  const struct rt_msghdr *rtm = (const struct rt_msghdr *)(const void *)buf;
  ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
  if (n < 0)
    return errno == ENOBUFS ? 1 : -1;
  /* One message per read; its header is checked to fit before it is read. */
  if ((size_t)n < offsetof(struct rt_msghdr, rtm_type) + 1 ||
      rtm->rtm_version != RTM_VERSION)
    return 0;
  return rtm->rtm_type == RTM_NEWADDR || rtm->rtm_type == RTM_DELADDR;
#else
  (void)fd;
  (void)buf;
  (void)size;
  errno = EAGAIN; /* no watch can be opened here, so nothing to read */
  return -1;
#endif
}

napi_value berth_drain_address_watch(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  /* A union keeps the buffer aligned for the message headers read from it. */
  union {
#if defined(__linux__)
    struct nlmsghdr header;
#elif defined(__APPLE__)
    struct rt_msghdr header;
#endif
    char bytes[WATCH_BUFFER];
  } buf;
  int fd, err, reads, events = 0;

  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  err = check_watch(fd);
  if (err == EINVAL) {
    berth_throw_custom(env, "EINVAL", UV_EINVAL, "drainAddressWatch",
                       "EINVAL: fd is not an address watch, drainAddressWatch");
    return NULL;
  }
  if (err != 0) {
    berth_throw_errno(env, err, "getsockopt");
    return NULL;
  }
  for (reads = 0; reads < WATCH_MAX_READS; reads++) {
    int n = read_once(fd, buf.bytes, sizeof(buf.bytes));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (errno == EINTR)
        continue;
      berth_throw_errno(env, errno, "recv");
      return NULL;
    }
    if (events <= INT32_MAX - n)
      events += n;
  }
  BERTH_NAPI(env, napi_create_int32(env, events, &result));
  return result;
}
