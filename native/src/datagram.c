/*
 * UDP on a descriptor Node cannot adopt safely: the published port's socket
 * (bound by bindSocket, or by the root helper and passed over SCM_RIGHTS).
 * Node's dgram can wrap an fd (bind({fd})), but libuv's uv_udp_open then sets
 * SO_REUSEADDR on it (SO_REUSEPORT on macOS), after which any local user can
 * bind the same UDP port with SO_REUSEADDR and take its datagrams. So the
 * backend reads and writes that one socket here instead, driven by pollStart.
 *
 *   datagramAddress(fd)          -> { address, port } (getsockname); the fd
 *                                   must be a SOCK_DGRAM socket (EPROTOTYPE)
 *   receiveDatagram(fd, max)     -> { data, address, port, from } or null
 *                                   when nothing is pending (non-blocking)
 *   sendDatagram(fd, data, to)   -> bytes sent; `to` is a `from` Buffer of an
 *                                   earlier receiveDatagram (a raw sockaddr,
 *                                   checked here: length and family)
 */
#include "berth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Room for any UDP payload over IPv4 or IPv6 (without jumbograms). */
#define DATAGRAM_MAX 65536

static bool is_datagram_socket(int fd, int *err) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    *err = errno;
    return false;
  }
  if (type != SOCK_DGRAM) {
    *err = EPROTOTYPE;
    return false;
  }
  return true;
}

/* { address, port } of an AF_INET/AF_INET6 sockaddr; NULL with an exception
 * pending otherwise. */
static napi_value address_object(napi_env env, const struct sockaddr_storage *ss,
                                 socklen_t len, napi_value obj) {
  char text[INET6_ADDRSTRLEN];
  napi_value value;
  int port;
  if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    if (inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)) == NULL) {
      berth_throw_errno(env, errno, "inet_ntop");
      return NULL;
    }
    port = ntohs(sin->sin_port);
  } else if (ss->ss_family == AF_INET6 &&
             len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    if (inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)) == NULL) {
      berth_throw_errno(env, errno, "inet_ntop");
      return NULL;
    }
    port = ntohs(sin6->sin6_port);
  } else {
    berth_throw_errno(env, EAFNOSUPPORT, "getsockname");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "address", value));
  BERTH_NAPI(env, napi_create_int32(env, port, &value));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "port", value));
  return obj;
}

napi_value berth_datagram_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  int fd, err = 0;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);

  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  if (!is_datagram_socket(fd, &err)) {
    berth_throw_errno(env, err, "getsockopt");
    return NULL;
  }
  memset(&ss, 0, sizeof(ss));
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    berth_throw_errno(env, errno, "getsockname");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_object(env, &obj));
  return address_object(env, &ss, len, obj);
}

napi_value berth_receive_datagram(napi_env env, napi_callback_info info) {
  napi_value argv[2], obj, value, result = NULL;
  int fd;
  int64_t max_bytes;
  char *data;
  struct sockaddr_storage from;
  struct msghdr msg;
  struct iovec iov;
  size_t n;

  if (!berth_get_args(env, info, 2, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd) ||
      !berth_get_int(env, argv[1], "maxBytes", 1, DATAGRAM_MAX, &max_bytes))
    return NULL;
  data = malloc((size_t)max_bytes);
  if (data == NULL) {
    berth_throw_errno(env, ENOMEM, "recvmsg");
    return NULL;
  }
  memset(&from, 0, sizeof(from));
  memset(&msg, 0, sizeof(msg));
  iov.iov_base = data;
  iov.iov_len = (size_t)max_bytes;
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  /* No control buffer: descriptors cannot ride on an inet socket anyway. */
  if (!berth_recvmsg_nowait(env, fd, &msg, 0, &n, &result)) {
    free(data);
    return result; /* null: nothing pending; NULL: thrown */
  }
  /* A datagram larger than the buffer lost its tail: never forward it cut.
   * The datagram is consumed; the caller counts it as dropped. */
  if (msg.msg_flags & MSG_TRUNC) {
    free(data);
    berth_throw_errno(env, EMSGSIZE, "recvmsg");
    return NULL;
  }
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_buffer_copy(env, n, data, NULL, &value) != napi_ok ||
      napi_set_named_property(env, obj, "data", value) != napi_ok) {
    free(data);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  free(data);
  if (address_object(env, &from, msg.msg_namelen, obj) == NULL)
    return NULL;
  /* The sender's sockaddr as the kernel gave it (scope id included), so a
   * reply goes back to exactly that peer. */
  BERTH_NAPI(env, napi_create_buffer_copy(env, msg.msg_namelen, &from, NULL,
                                          &value));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "from", value));
  return obj;
}

/* `to` must be exactly one AF_INET or AF_INET6 sockaddr: anything else is
 * EINVAL before a byte is sent. */
static bool get_destination(napi_env env, napi_value value,
                            struct sockaddr_storage *out, socklen_t *len) {
  bool is_buffer = false;
  void *bytes = NULL;
  size_t length = 0;
  sa_family_t family;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, value, &bytes, &length) != napi_ok) {
    berth_throw_type(env, "to must be a Buffer from receiveDatagram");
    return false;
  }
  if (length != sizeof(struct sockaddr_in) &&
      length != sizeof(struct sockaddr_in6)) {
    berth_throw_errno(env, EINVAL, "sendto");
    return false;
  }
  memset(out, 0, sizeof(*out));
  memcpy(out, bytes, length);
  family = out->ss_family;
  if ((family == AF_INET && length != sizeof(struct sockaddr_in)) ||
      (family == AF_INET6 && length != sizeof(struct sockaddr_in6)) ||
      (family != AF_INET && family != AF_INET6)) {
    berth_throw_errno(env, EINVAL, "sendto");
    return false;
  }
#if defined(__APPLE__) || defined(__FreeBSD__)
  out->ss_len = (unsigned char)length;
#endif
  *len = (socklen_t)length;
  return true;
}

napi_value berth_send_datagram(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd;
  bool is_buffer = false;
  void *data = NULL;
  size_t data_len = 0;
  struct sockaddr_storage to;
  socklen_t to_len = 0;
  ssize_t n;

  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &data, &data_len) != napi_ok) {
    berth_throw_type(env, "data must be a Buffer");
    return NULL;
  }
  if (data_len > DATAGRAM_MAX) {
    berth_throw_range(env, "data must be at most 65536 bytes");
    return NULL;
  }
  if (!get_destination(env, argv[2], &to, &to_len))
    return NULL;
  do {
    n = sendto(fd, data_len > 0 ? data : "", data_len, MSG_DONTWAIT,
               (const struct sockaddr *)&to, to_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    berth_throw_errno(env, errno, "sendto");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_int64(env, (int64_t)n, &result));
  return result;
}
