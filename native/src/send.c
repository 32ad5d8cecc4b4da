/*
 * sendMessage(fd, data, fds): one non-blocking sendmsg(), optionally carrying
 * file descriptors as a single SCM_RIGHTS control message.
 */
#include "berth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Read the fds array: 0..BERTH_MAX_FDS non-negative integers. */
static bool get_fd_array(napi_env env, napi_value value, int *fds,
                         uint32_t *count) {
  bool is_array = false;
  uint32_t length = 0, i;
  char name[32];
  if (napi_is_array(env, value, &is_array) != napi_ok || !is_array) {
    berth_throw_type(env, "fds must be an array of file descriptors");
    return false;
  }
  if (napi_get_array_length(env, value, &length) != napi_ok) {
    berth_throw_type(env, "fds must be an array of file descriptors");
    return false;
  }
  /* Bounded so the control buffer below can be a fixed-size stack array. */
  if (length > BERTH_MAX_FDS) {
    berth_throw_range(env, "fds must hold at most 16 file descriptors");
    return false;
  }
  for (i = 0; i < length; i++) {
    napi_value element;
    /* Element reads can run getters (or throw); checked like any input. */
    if (napi_get_element(env, value, i, &element) != napi_ok) {
      berth_throw_napi_failure(env, napi_generic_failure);
      return false;
    }
    snprintf(name, sizeof(name), "fds[%u]", (unsigned)i);
    if (!berth_get_fd(env, element, name, &fds[i]))
      return false;
  }
  *count = length;
  return true;
}

/* Zero-length writes with fds are silently dropped on stream sockets (Linux
 * sends nothing at all), so only packet-oriented sockets may do that. */
static int check_empty_send(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return errno;
  return type == SOCK_STREAM ? EINVAL : 0;
}

napi_value berth_send_message(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd;
  int fds[BERTH_MAX_FDS];
  uint32_t nfds = 0;
  bool is_buffer = false;
  void *data = NULL;
  size_t data_len = 0;
  union {
    struct cmsghdr align; /* forces correct alignment of the buffer */
    char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_FDS)];
  } control;
  struct msghdr msg;
  struct iovec iov;
  ssize_t n;
  int flags = MSG_DONTWAIT;

  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd))
    return NULL;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) {
    berth_throw_type(env, "data must be a Buffer");
    return NULL;
  }
  BERTH_NAPI(env, napi_get_buffer_info(env, argv[1], &data, &data_len));
  if (!get_fd_array(env, argv[2], fds, &nfds))
    return NULL;
  if (data_len == 0) {
    int err;
    if (nfds == 0) {
      berth_throw_range(env, "data must not be empty unless fds are sent");
      return NULL;
    }
    err = check_empty_send(fd);
    if (err != 0) {
      berth_throw_errno(env, err, "sendmsg");
      return NULL;
    }
  }

  memset(&msg, 0, sizeof(msg));
  memset(&control, 0, sizeof(control));
  iov.iov_base = data;
  iov.iov_len = data_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    struct cmsghdr *cmsg;
    msg.msg_control = control.buf;
    /* socklen_t on macOS, size_t on Linux: the value is tiny either way */
    msg.msg_controllen = (socklen_t)CMSG_SPACE(sizeof(int) * nfds);
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = (socklen_t)CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
  }

#if defined(MSG_NOSIGNAL) && !defined(__APPLE__)
  /* A vanished peer must give EPIPE, not a SIGPIPE that kills the process. */
  flags |= MSG_NOSIGNAL;
#elif defined(SO_NOSIGPIPE)
  {
    /* macOS: no MSG_NOSIGNAL for sendmsg; set the socket option instead
     * (the fd may come from Node, so it is set on every call). */
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on)) != 0) {
      berth_throw_errno(env, errno, "setsockopt");
      return NULL;
    }
  }
#endif

  do {
    n = sendmsg(fd, &msg, flags);
  } while (n < 0 && errno == EINTR); /* interrupted before sending: retry */
  if (n < 0) {
    berth_throw_errno(env, errno, "sendmsg");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_double(env, (double)n, &result));
  return result;
}
