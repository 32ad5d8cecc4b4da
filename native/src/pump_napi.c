/*
 * The data plane's JS functions (see pump.h for the design):
 *   pumpOpen(connectTimeoutMs, onReport) -> PumpMapping
 *   pumpAdd(mapping, clientFd, address, port)
 *   pumpClose(mapping)
 *   pumpStats(mapping) -> { bytesIn, bytesOut, queued }
 *   acceptConnections(listenFd, max) -> fds
 *   resetSocket(fd)
 *
 * A mapping's memory is shared by the JS object (until its finalizer), the
 * env cleanup hook (until it runs or is removed), the threadsafe function
 * (until finalized), each queued command and each open pair: refs counts
 * them, and the last one frees it.
 */
#include "pump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONNECT_TIMEOUT_MS (24 * 60 * 60 * 1000)

static void on_env_cleanup(void *arg);

static const napi_type_tag mapping_tag = {0x3c9e51d07a2b4f18ULL,
                                          0x8d6f2e4a1b097c53ULL};

/* Runs on the JS thread: hand the counters gathered since the last call to
 * the JS callback as (closed, failed, lastErrno, exhausted, finished,
 * reached). */
static void call_js(napi_env env, napi_value callback, void *context,
                    void *data) {
  pump_mapping *m = context;
  uint32_t closed, failed, exhausted;
  int last_errno;
  bool finished, reached;
  napi_value argv[6], global, exception;
  bool pending = false;
  (void)data;
  if (env == NULL) /* torn down: nothing to tell, nobody to tell it to */
    return;
  pthread_mutex_lock(&m->lock);
  closed = m->ev_closed;
  failed = m->ev_failed;
  exhausted = m->ev_exhausted;
  last_errno = m->ev_errno;
  finished = m->ev_finished;
  reached = m->ev_reached;
  m->ev_closed = m->ev_failed = m->ev_exhausted = 0;
  m->ev_finished = m->ev_reached = false;
  m->scheduled = false;
  pthread_mutex_unlock(&m->lock);
  if (closed == 0 && !finished && failed == 0 && exhausted == 0 && !reached)
    return;
  if (napi_create_uint32(env, closed, &argv[0]) == napi_ok &&
      napi_create_uint32(env, failed, &argv[1]) == napi_ok &&
      napi_create_int32(env, last_errno, &argv[2]) == napi_ok &&
      napi_create_uint32(env, exhausted, &argv[3]) == napi_ok &&
      napi_get_boolean(env, finished, &argv[4]) == napi_ok &&
      napi_get_boolean(env, reached, &argv[5]) == napi_ok &&
      napi_get_global(env, &global) == napi_ok)
    napi_call_function(env, global, callback, 6, argv, NULL);
  /* An exception thrown by the callback is reported as uncaught, as Node
   * does for its own callbacks, and never poisons the next call. */
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exception) == napi_ok)
    napi_fatal_exception(env, exception);
  if (finished && m->hook_active) {
    m->hook_active = false;
    napi_remove_env_cleanup_hook(env, on_env_cleanup, m);
    pump_mapping_unref(m); /* the hook's reference */
  }
}

/* The environment is going away (worker exit, process end): the threadsafe
 * function is finalized right after this, so the pump thread must stop
 * using it now; its connections are closed. */
static void on_env_cleanup(void *arg) {
  pump_mapping *m = arg;
  pthread_mutex_lock(&m->lock);
  m->env_gone = true;
  pthread_mutex_unlock(&m->lock);
  m->hook_active = false;
  pump_request_close(m);
  pump_mapping_unref(m);
}

static void on_tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  pump_mapping_unref(data);
}

/* JS object collected without pumpClose: close its connections now. */
static void on_object_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  pump_request_close(data);
  pump_mapping_unref(data);
}

static pump_mapping *get_mapping(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, value, &mapping_tag, &tagged) !=
          napi_ok ||
      !tagged || napi_unwrap(env, value, &data) != napi_ok || data == NULL) {
    berth_throw_type(env, "mapping must be a PumpMapping returned by pumpOpen");
    return NULL;
  }
  return data;
}

napi_value berth_pump_open(napi_env env, napi_callback_info info) {
  napi_value argv[2], name, obj;
  napi_valuetype type;
  int64_t timeout;
  const char *syscall = "";
  pump_mapping *m;
  int err;

  if (!berth_get_args(env, info, 2, argv) ||
      !berth_get_int(env, argv[0], "connectTimeoutMs", 1,
                     MAX_CONNECT_TIMEOUT_MS, &timeout))
    return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    berth_throw_type(env, "onReport must be a function");
    return NULL;
  }
  err = pump_start(&syscall);
  if (err != 0) {
    berth_throw_errno(env, err, syscall);
    return NULL;
  }
  m = calloc(1, sizeof(*m));
  if (m == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    berth_throw_errno(env, ENOMEM, "pumpOpen");
    return NULL;
  }
  atomic_init(&m->refs, 1); /* ours until the object wraps it */
  m->connect_timeout_ms = timeout;
  m->env = env;
  BERTH_NAPI(env, napi_create_string_utf8(env, "BerthPump", NAPI_AUTO_LENGTH,
                                          &name));
  /* Queue size 0 (unbounded): the pump thread never waits on JS; it queues
   * at most one call per mapping at a time anyway. Thread count 1: the pump
   * thread's, released after the last report. */
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, m,
                                      on_tsfn_finalize, m, call_js,
                                      &m->tsfn) != napi_ok) {
    pump_mapping_unref(m);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  atomic_fetch_add(&m->refs, 1); /* the tsfn's, dropped by on_tsfn_finalize */
  /* Not keeping the process alive: the listening socket's poll handle does
   * that while the mapping is open, as a net.Server would. */
  napi_unref_threadsafe_function(env, m->tsfn);
  /* Added after the tsfn, so it runs before the tsfn's own teardown. */
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, m) != napi_ok) {
    pump_request_close(m);
    pump_mapping_unref(m);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  atomic_fetch_add(&m->refs, 1);
  m->hook_active = true;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_type_tag_object(env, obj, &mapping_tag) != napi_ok ||
      napi_object_freeze(env, obj) != napi_ok ||
      napi_wrap(env, obj, m, on_object_finalize, NULL, NULL) != napi_ok) {
    pump_request_close(m);
    pump_mapping_unref(m);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return obj;
}

/* A literal IPv4 or IPv6 address (the caller resolved names) and a port. */
static bool get_address(napi_env env, napi_value addr_value,
                        napi_value port_value, struct sockaddr_storage *ss,
                        socklen_t *len) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t n = 0;
  bool too_long = false, has_nul = false;
  int64_t port;
  if (!berth_get_string(env, addr_value, "address", text, sizeof(text), &n,
                        &too_long, &has_nul) ||
      !berth_get_int(env, port_value, "port", 1, 65535, &port))
    return false;
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (!too_long && !has_nul && inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
  } else if (!too_long && !has_nul &&
             inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
  } else {
    berth_throw_invalid_value(env, "address must be a literal IPv4 or IPv6 address");
    return false;
  }
#if defined(__APPLE__)
  ss->ss_len = (unsigned char)*len;
#endif
  return true;
}

/* TCP_NODELAY: the forwarder adds no latency of its own to small writes
 * (the JS forwarder sets noDelay on both sockets too). */
static int no_delay(int fd) {
  int on = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

napi_value berth_pump_add(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  napi_valuetype alt_type;
  pump_mapping *m;
  struct sockaddr_storage ss, alt;
  socklen_t len = 0, alt_len = 0;
  struct stat st;
  int client, target, err;
  pump_pair *p;

  if (!berth_get_args(env, info, 5, argv) ||
      (m = get_mapping(env, argv[0])) == NULL ||
      !berth_get_fd(env, argv[1], "clientFd", &client) ||
      !get_address(env, argv[2], argv[3], &ss, &len) ||
      napi_typeof(env, argv[4], &alt_type) != napi_ok ||
      (alt_type != napi_undefined &&
       !get_address(env, argv[4], argv[3], &alt, &alt_len)))
    return NULL;
  /* From here on the client fd is ours: every failure closes it (reset). */
  if (atomic_load(&m->close_requested)) {
    berth_reset_close(client);
    berth_throw_custom(env, "EBADF", -EBADF, "pumpAdd",
                       "EBADF: the mapping was closed, pumpAdd");
    return NULL;
  }
  /* Only a connected TCP socket may be handed over: anything else (a file,
   * a UNIX socket) would make the pump thread splice where it must not. */
  if (fstat(client, &st) != 0) {
    berth_throw_errno(env, errno, "fstat");
    return NULL;
  }
  if (!S_ISSOCK(st.st_mode)) {
    close(client);
    berth_throw_errno(env, ENOTSOCK, "pumpAdd");
    return NULL;
  }
  if (berth_set_nonblock(client) != 0 || no_delay(client) != 0 ||
      berth_set_nosigpipe(client) != 0) {
    err = errno;
    berth_reset_close(client);
    berth_throw_errno(env, err, "setsockopt");
    return NULL;
  }
  /* The first address, or at once the other one where the kernel already
   * knows the first cannot work (no IPv6 route, no such address here). */
  err = pump_connect(&ss, len, &target);
  if (err != 0 && err != EMFILE && err != ENFILE && alt_len != 0) {
    err = pump_connect(&alt, alt_len, &target);
    alt_len = 0;
  }
  if (err != 0) {
    berth_reset_close(client);
    /* JS shows this failure: the next connection that gets through says so. */
    pthread_mutex_lock(&m->lock);
    m->target_down = true;
    m->ev_reached = false;
    pthread_mutex_unlock(&m->lock);
    berth_throw_errno(env, err, "connect");
    return NULL;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    close(target);
    berth_reset_close(client);
    berth_throw_errno(env, ENOMEM, "pumpAdd");
    return NULL;
  }
  p->mapping = m;
  p->fd[0] = client;
  p->fd[1] = target;
  if (alt_len != 0) {
    p->alt = alt;
    p->alt_len = alt_len;
  }
  for (int d = 0; d < 2; d++) {
    p->dir[d].src = p->fd[d];
    p->dir[d].dst = p->fd[1 - d];
    p->dir[d].pipe_r = p->dir[d].pipe_w = -1;
    /* Tried once the target is up: bytes may be waiting already. */
    p->dir[d].readable = true;
  }
  atomic_fetch_add(&m->refs, 1); /* the pair's, dropped when it is freed */
  p->start_cmd.pair = p;
  pump_enqueue(&p->start_cmd);
  return NULL;
}

napi_value berth_pump_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pump_mapping *m;
  if (!berth_get_args(env, info, 1, argv) ||
      (m = get_mapping(env, argv[0])) == NULL)
    return NULL;
  /* Until the last report arrives the process must stay up, or a caller
   * awaiting it (a backend shutting down) would end early with nothing
   * else on the loop. Only on the first request: the pump thread releases
   * the function only after handling it, so it is alive here. */
  if (!atomic_load(&m->close_requested))
    napi_ref_threadsafe_function(env, m->tsfn);
  pump_request_close(m); /* idempotent */
  return NULL;
}

napi_value berth_pump_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  pump_mapping *m;
  int_least64_t queued;
  if (!berth_get_args(env, info, 1, argv) ||
      (m = get_mapping(env, argv[0])) == NULL)
    return NULL;
  queued = atomic_load(&m->queued);
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, berth_set_number(env, obj, "bytesIn",
                                   (double)atomic_load(&m->bytes_in)));
  BERTH_NAPI(env, berth_set_number(env, obj, "bytesOut",
                                   (double)atomic_load(&m->bytes_out)));
  BERTH_NAPI(env, berth_set_number(env, obj, "queued",
                                   (double)(queued > 0 ? queued : 0)));
  return obj;
}
