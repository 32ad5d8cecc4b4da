/*
 * bindSocket(address, port, protocol, backlog): a bound (and, for TCP,
 * listening) socket for a literal IPv4/IPv6 address. The root helper uses it
 * to hand privileged ports to users, so the address parsing is strict.
 */
#include "berth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest literal we accept: a full IPv6 text form (45 chars + NUL). */
#define ADDRESS_CAP 64

typedef struct {
  int family;
  struct sockaddr_storage storage;
  socklen_t len;
} parsed_address;

/* inet_pton only: no hostnames (no DNS from the root helper), no zone ids,
 * no shorthand IPv4 forms like "1.2.3" or "127.1". */
static bool parse_address(const char *text, int port, parsed_address *out) {
  memset(out, 0, sizeof(*out));
  if (strchr(text, ':') == NULL) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->storage;
    if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
      return false;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
#if defined(__APPLE__) || defined(__FreeBSD__)
    sin->sin_len = (unsigned char)sizeof(*sin);
#endif
    out->family = AF_INET;
    out->len = (socklen_t)sizeof(*sin);
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->storage;
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
      return false;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
#if defined(__APPLE__) || defined(__FreeBSD__)
    sin6->sin6_len = (unsigned char)sizeof(*sin6);
#endif
    out->family = AF_INET6;
    out->len = (socklen_t)sizeof(*sin6);
  }
  return true;
}

static bool get_protocol(napi_env env, napi_value value, int *type) {
  char text[8];
  size_t len = 0;
  bool too_long = false, has_nul = false;
  if (!berth_get_string(env, value, "protocol", text, sizeof(text), &len,
                        &too_long, &has_nul))
    return false;
  if (!too_long && !has_nul && strcmp(text, "tcp") == 0) {
    *type = SOCK_STREAM;
    return true;
  }
  if (!too_long && !has_nul && strcmp(text, "udp") == 0) {
    *type = SOCK_DGRAM;
    return true;
  }
  berth_throw_type(env, "protocol must be 'tcp' or 'udp'");
  return false;
}

/* Create, configure, bind and listen; returns the fd or -1 with errno and
 * *syscall naming the step that failed. Closes the socket on failure. */
static int make_socket(const parsed_address *addr, int type, int backlog,
                       bool probe, const char **syscall) {
  int fd, on = 1;
  *syscall = "socket";
  /* Blocking mode on purpose: whoever receives the fd (Node, or a child via
   * LISTEN_FDS) picks its own mode. Close-on-exec so it is never inherited. */
  fd = berth_socket_cloexec(addr->family, type, false);
  if (fd < 0)
    return -1;
  *syscall = "setsockopt";
  /* SO_REUSEADDR lets us rebind past TIME_WAIT. Never SO_REUSEPORT: a
   * root-created SO_REUSEPORT socket could share a port with another root
   * service and steal part of its traffic. */
  if (!probe && type == SOCK_STREAM &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    goto fail;
  /* Bind exactly the address asked: "::" must not also grab IPv4. */
  if (addr->family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
    goto fail;
  *syscall = "bind";
  if (bind(fd, (const struct sockaddr *)&addr->storage, addr->len) != 0)
    goto fail;
  /* A probe never listens: nobody may connect to it, even for an instant. */
  if (!probe && type == SOCK_STREAM) {
    *syscall = "listen";
    if (listen(fd, backlog) != 0)
      goto fail;
  }
  return fd;
fail:
  berth_close_keep_errno(fd);
  return -1;
}

napi_value berth_bind_socket(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  char text[ADDRESS_CAP];
  size_t len = 0;
  bool too_long = false, has_nul = false;
  int64_t port, backlog;
  int type = 0, fd;
  const char *syscall = "bind";
  parsed_address addr;

  if (!berth_get_args(env, info, 4, argv) ||
      !berth_get_string(env, argv[0], "address", text, sizeof(text), &len,
                        &too_long, &has_nul) ||
      !berth_get_int(env, argv[1], "port", 1, 65535, &port) ||
      !get_protocol(env, argv[2], &type) ||
      /* Validated for UDP as well, although only TCP uses it. */
      !berth_get_int(env, argv[3], "backlog", 1, 4096, &backlog))
    return NULL;
  /* Anything that is not exactly one literal address is EINVAL, like the
   * kernel's own answer to a malformed sockaddr. NULs are checked first:
   * "127.0.0.1\0junk" must not parse as 127.0.0.1. */
  if (too_long || has_nul || len == 0 || !parse_address(text, (int)port, &addr)) {
    berth_throw_errno(env, EINVAL, "inet_pton");
    return NULL;
  }

  fd = make_socket(&addr, type, (int)backlog, false, &syscall);
  if (fd < 0) {
    berth_throw_errno(env, errno, syscall);
    return NULL;
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}

/*
 * probeBind(address, port, protocol): whether anyone holds the port on that
 * address: bind without SO_REUSEADDR and without listening, then close.
 * Returns true when the bind worked; throws the errno (EADDRINUSE: held)
 * otherwise. The helper probes sibling addresses before handing a port out.
 */
napi_value berth_probe_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  char text[ADDRESS_CAP];
  size_t len = 0;
  bool too_long = false, has_nul = false;
  int64_t port;
  int type = 0, fd;
  const char *syscall = "bind";
  parsed_address addr;

  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_string(env, argv[0], "address", text, sizeof(text), &len,
                        &too_long, &has_nul) ||
      !berth_get_int(env, argv[1], "port", 1, 65535, &port) ||
      !get_protocol(env, argv[2], &type))
    return NULL;
  if (too_long || has_nul || len == 0 || !parse_address(text, (int)port, &addr)) {
    berth_throw_errno(env, EINVAL, "inet_pton");
    return NULL;
  }
  fd = make_socket(&addr, type, 1, true, &syscall);
  if (fd < 0) {
    berth_throw_errno(env, errno, syscall);
    return NULL;
  }
  close(fd);
  if (napi_get_boolean(env, true, &result) != napi_ok) {
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}
