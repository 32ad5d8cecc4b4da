/*
 * socketAddress(fd): where a TCP socket is bound (getsockname), and whether it
 * listens (SO_ACCEPTCONN). Node offers this only for sockets it owns; the
 * native data plane serves a listening fd that Node never wraps.
 */
#include "berth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

napi_value berth_socket_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj, text, listening;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  char buf[INET6_ADDRSTRLEN];
  int fd, type = 0, accepting = 0, port;
  socklen_t optlen = sizeof(type);

  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    berth_throw_errno(env, errno, "getsockname");
    return NULL;
  }
  /* Only TCP over IPv4/IPv6: the forwarders serve nothing else. */
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0) {
    berth_throw_errno(env, errno, "getsockopt");
    return NULL;
  }
  if ((ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
      type != SOCK_STREAM) {
    berth_throw_errno(env, EAFNOSUPPORT, "getsockname");
    return NULL;
  }
  optlen = sizeof(accepting);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen) != 0) {
    berth_throw_errno(env, errno, "getsockopt");
    return NULL;
  }
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    port = ntohs(v4->sin_port);
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    port = ntohs(v6->sin6_port);
  }
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &text));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "address", text));
  BERTH_NAPI(env, napi_create_string_utf8(
                      env, ss.ss_family == AF_INET ? "IPv4" : "IPv6",
                      NAPI_AUTO_LENGTH, &text));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "family", text));
  BERTH_NAPI(env, berth_set_number(env, obj, "port", port));
  BERTH_NAPI(env, napi_get_boolean(env, accepting != 0, &listening));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "listening", listening));
  return obj;
}
