/*
 * peerCredentials(fd): who is on the other end of a connected UNIX socket.
 * Linux: SO_PEERCRED. macOS: getpeereid() + LOCAL_PEERPID.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* struct ucred */
#endif

#include "berth.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Refuse anything that is not a connected AF_UNIX socket: the kernel happily
 * answers SO_PEERCRED for TCP or unconnected sockets with placeholder ids
 * (the overflow uid), which a caller could mistake for a real peer.
 */
static int check_connected_unix(int fd) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  memset(&addr, 0, sizeof(addr));
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
    return errno;
  if (addr.ss_family != AF_UNIX)
    return EAFNOSUPPORT;
  len = sizeof(addr);
  /* A listening or unconnected socket has no peer (ENOTCONN). */
  if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0)
    return errno;
  return 0;
}

static napi_value make_result(napi_env env, int64_t uid, int64_t gid,
                              int64_t pid) {
  napi_value obj, v;
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_int64(env, uid, &v));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "uid", v));
  BERTH_NAPI(env, napi_create_int64(env, gid, &v));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "gid", v));
  BERTH_NAPI(env, napi_create_int64(env, pid, &v));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "pid", v));
  return obj;
}

napi_value berth_peer_credentials(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, err;
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;

  err = check_connected_unix(fd);
  if (err != 0) {
    berth_throw_errno(env, err, "getpeername");
    return NULL;
  }

#if defined(__linux__)
  {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    memset(&cred, 0, sizeof(cred));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      berth_throw_errno(env, errno, "getsockopt");
      return NULL;
    }
    /* A short answer would leave fields unset; never report guessed ids. */
    if (len != sizeof(cred)) {
      berth_throw_errno(env, EPROTO, "getsockopt");
      return NULL;
    }
    /* pid 0 means the peer is in a pid namespace we cannot see. */
    return make_result(env, (int64_t)cred.uid, (int64_t)cred.gid,
                       cred.pid > 0 ? (int64_t)cred.pid : -1);
  }
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) ||   \
    defined(__NetBSD__)
  {
    uid_t uid;
    gid_t gid;
    int64_t pid = -1;
    if (getpeereid(fd, &uid, &gid) != 0) {
      berth_throw_errno(env, errno, "getpeereid");
      return NULL;
    }
#if defined(LOCAL_PEERPID)
    {
      pid_t peer_pid = 0;
      socklen_t len = sizeof(peer_pid);
      /* The pid is informational (it can be recycled); a failure here only
       * means "unknown", not an error. Identity decisions use uid/gid, and
       * code-signature checks must use the audit token, never this pid. */
      if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &peer_pid, &len) == 0 &&
          len == sizeof(peer_pid) && peer_pid > 0)
        pid = (int64_t)peer_pid;
    }
#endif
    return make_result(env, (int64_t)uid, (int64_t)gid, pid);
  }
#else
  berth_throw_errno(env, ENOSYS, "getsockopt");
  return NULL;
#endif
}
