/*
 * receiveMessage(fd, maxBytes, maxFds): one non-blocking recvmsg(). Returns
 * { data, fds }, or null when nothing is pending. Received descriptors are
 * close-on-exec, and none is ever leaked, whatever the peer sends.
 *
 * Also berth_recvmsg_nowait, the one non-blocking recvmsg() loop that this
 * file and receiveDatagram (datagram.c) share.
 */
#include "berth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

typedef struct {
  int fds[BERTH_MAX_FDS];
  size_t count;
  size_t capacity; /* the caller's maxFds */
  bool truncated;  /* more fds arrived than we accept */
  int error;       /* errno from making a received fd close-on-exec */
} fd_list;

static void close_all(fd_list *list) {
  size_t i;
  for (i = 0; i < list->count; i++)
    berth_close_keep_errno(list->fds[i]);
  list->count = 0;
}

/* Walk every control message; keep SCM_RIGHTS fds up to capacity and close
 * the rest immediately, so nothing that arrived can leak. */
static void collect_fds(struct msghdr *msg, fd_list *list) {
  struct cmsghdr *cmsg;
  const char *end = (const char *)msg->msg_control + msg->msg_controllen;
  if (msg->msg_control == NULL)
    return;
  for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL; cmsg = CMSG_NXTHDR(msg, cmsg)) {
    const char *payload = (const char *)CMSG_DATA(cmsg);
    size_t payload_len, i, n;
    /* A header shorter than itself would make the walk loop or underflow. */
    if (cmsg->cmsg_len < CMSG_LEN(0))
      break;
    payload_len = cmsg->cmsg_len - CMSG_LEN(0);
    /* Never read past the buffer the kernel filled in. */
    if (payload > end) {
      list->truncated = true;
      break;
    }
    if (payload_len > (size_t)(end - payload)) {
      payload_len = (size_t)(end - payload);
      list->truncated = true;
    }
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
      continue; /* other ancillary data carries no descriptors */
    n = payload_len / sizeof(int);
    for (i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, payload + i * sizeof(int), sizeof(int)); /* may be unaligned */
      if (fd < 0)
        continue;
#if !defined(MSG_CMSG_CLOEXEC)
      /* macOS: no MSG_CMSG_CLOEXEC, so mark each fd as soon as we see it. */
      if (berth_set_cloexec(fd) != 0 && list->error == 0)
        list->error = errno;
#endif
      if (list->count < list->capacity && list->count < BERTH_MAX_FDS) {
        list->fds[list->count++] = fd;
      } else {
        berth_close_keep_errno(fd);
        list->truncated = true;
      }
    }
  }
}

bool berth_recvmsg_nowait(napi_env env, int fd, struct msghdr *msg, int flags,
                          size_t *received, napi_value *none) {
  ssize_t n;
  int err;
  /* A signal that lands mid-call is not the peer's doing: ask again. */
  do {
    n = recvmsg(fd, msg, flags | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    *received = (size_t)n;
    return true;
  }
  err = errno;
  *none = NULL;
  /* Readable by poll, yet empty by now (another reader took it, or the
   * kernel dropped a datagram with a bad checksum): null, not an error. */
  if (err == EAGAIN || err == EWOULDBLOCK) {
    napi_status status = napi_get_null(env, none);
    if (status != napi_ok) {
      *none = NULL;
      berth_throw_napi_failure(env, status);
    }
    return false;
  }
  berth_throw_errno(env, err, "recvmsg");
  return false;
}

static napi_value build_result(napi_env env, const char *data, size_t len,
                               const fd_list *list) {
  napi_value obj, buffer, array, v;
  size_t i;
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_buffer_copy(env, len, data, NULL, &buffer));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "data", buffer));
  BERTH_NAPI(env, napi_create_array_with_length(env, list->count, &array));
  for (i = 0; i < list->count; i++) {
    BERTH_NAPI(env, napi_create_int32(env, list->fds[i], &v));
    BERTH_NAPI(env, napi_set_element(env, array, (uint32_t)i, v));
  }
  BERTH_NAPI(env, napi_set_named_property(env, obj, "fds", array));
  return obj;
}

napi_value berth_receive_message(napi_env env, napi_callback_info info) {
  napi_value argv[3], result = NULL;
  int fd;
  int64_t max_bytes, max_fds;
  char *data;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_FDS)];
  } control;
  struct msghdr msg;
  struct iovec iov;
  fd_list list;
  size_t n;
  int flags = 0;

  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd) ||
      !berth_get_int(env, argv[1], "maxBytes", 1, BERTH_MAX_RECV_BYTES,
                     &max_bytes) ||
      !berth_get_int(env, argv[2], "maxFds", 0, BERTH_MAX_FDS, &max_fds))
    return NULL;

  data = malloc((size_t)max_bytes);
  if (data == NULL) {
    berth_throw_errno(env, ENOMEM, "recvmsg");
    return NULL;
  }
  memset(&msg, 0, sizeof(msg));
  memset(&control, 0, sizeof(control));
  memset(&list, 0, sizeof(list));
  list.capacity = (size_t)max_fds;
  iov.iov_base = data;
  iov.iov_len = (size_t)max_bytes;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  /* Room for exactly maxFds descriptors: if the peer sends more, the kernel
   * sets MSG_CTRUNC and disposes of the extras itself. With maxFds 0 there
   * is no control buffer at all, and any fds sent are likewise refused. */
  if (max_fds > 0) {
    msg.msg_control = control.buf;
    /* socklen_t on macOS, size_t on Linux: the value is tiny either way */
    msg.msg_controllen = (socklen_t)CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  }
#if defined(MSG_CMSG_CLOEXEC)
  flags |= MSG_CMSG_CLOEXEC; /* atomic close-on-exec for received fds */
#endif

  if (!berth_recvmsg_nowait(env, fd, &msg, flags, &n, &result)) {
    free(data);
    return result; /* null: nothing pending; NULL: thrown */
  }

  collect_fds(&msg, &list);
  if ((msg.msg_flags & MSG_CTRUNC) || list.truncated) {
    /* The peer sent more fds than this protocol step allows: refuse all of
     * them (the connection should be dropped, its framing is now unknown). */
    close_all(&list);
    free(data);
    berth_throw_custom(env, "ECTRUNC", UV_EMSGSIZE, "recvmsg",
                       "control message truncated: peer sent more file "
                       "descriptors than expected");
    return NULL;
  }
  if (list.error != 0) {
    close_all(&list);
    free(data);
    berth_throw_errno(env, list.error, "fcntl");
    return NULL;
  }
  /* Datagram sockets drop the tail of a message larger than maxBytes;
   * report it rather than hand back a silently cut message. */
  if (msg.msg_flags & MSG_TRUNC) {
    close_all(&list);
    free(data);
    berth_throw_errno(env, EMSGSIZE, "recvmsg");
    return NULL;
  }

  result = build_result(env, data, n, &list);
  free(data);
  if (result == NULL)
    close_all(&list); /* JS never saw them; do not leak */
  return result;
}
