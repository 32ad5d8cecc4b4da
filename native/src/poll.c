/*
 * pollStart / pollUpdate / pollStop: watch a descriptor for readability or
 * writability with a uv_poll_t on Node's own event loop.
 *
 * Lifetime: the native state is shared by the uv handle (until its close
 * callback) and the JS handle object (until its finalizer). It is freed only
 * when both are done, so neither side can touch freed memory.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <uv.h>

typedef struct {
  uv_poll_t handle; /* first member: a uv_handle_t* casts back to us */
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  int fd;
  dev_t dev; /* identity of the fd at start, to detect a closed/reused fd */
  ino_t ino;
  bool closing;   /* uv_close requested: no more callbacks or updates */
  bool closed;    /* uv close callback ran */
  bool finalized; /* JS object collected (or never handed out) */
} berth_poll;

/* Tags our handle objects, so an object wrapped by another addon can never be
 * mistaken for a berth_poll. */
static const napi_type_tag poll_tag = {0x5be27a1c9d3f4e60ULL,
                                       0xa4c1f08b7e2d9531ULL};

static void on_close(uv_handle_t *handle) {
  berth_poll *p = (berth_poll *)handle;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(p->env, &scope) == napi_ok;
  p->closed = true;
  if (p->callback != NULL)
    napi_delete_reference(p->env, p->callback);
  p->callback = NULL;
  if (p->async_context != NULL)
    napi_async_destroy(p->env, p->async_context);
  p->async_context = NULL;
  if (scoped)
    napi_close_handle_scope(p->env, scope);
  /* Last: removing the hook may release the env during teardown. */
  if (p->cleanup_hook != NULL)
    napi_remove_async_cleanup_hook(p->cleanup_hook);
  p->cleanup_hook = NULL;
  if (p->finalized)
    free(p);
}

static void begin_close(berth_poll *p) {
  if (p->closing)
    return;
  p->closing = true;
  uv_poll_stop(&p->handle);
  uv_close((uv_handle_t *)&p->handle, on_close);
}

/* JS object garbage-collected: stop polling if pollStop was never called. */
static void on_finalize(napi_env env, void *data, void *hint) {
  berth_poll *p = data;
  (void)env;
  (void)hint;
  p->finalized = true;
  if (p->closed)
    free(p);
  else
    begin_close(p);
}

/* Environment teardown (worker exit, process shutdown): a still-open handle
 * would keep the loop from closing. on_close signals completion. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  berth_poll *p = arg;
  (void)hook;
  begin_close(p);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  berth_poll *p = (berth_poll *)handle;
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_value callback = NULL, global, argv[2], exception;
  bool pending = false;
  int mask = 0;

  if (p->closing || napi_open_handle_scope(env, &scope) != napi_ok)
    return;
  if (napi_get_reference_value(env, p->callback, &callback) != napi_ok ||
      callback == NULL || napi_get_global(env, &global) != napi_ok)
    goto done;
  if (status < 0) {
    /* libuv reports errors (e.g. POLLERR as EBADF) and stops the watcher. */
    argv[0] = berth_make_uv_error(env, status, "uv_poll");
    if (argv[0] == NULL)
      goto done;
  } else if (napi_get_null(env, &argv[0]) != napi_ok) {
    goto done;
  }
  if (events & UV_READABLE)
    mask |= BERTH_POLL_READABLE;
  if (events & UV_WRITABLE)
    mask |= BERTH_POLL_WRITABLE;
  if (napi_create_int32(env, mask, &argv[1]) != napi_ok)
    goto done;
  /* make_callback runs the callback inside its async context and drains
   * the microtask/nextTick queues afterwards, like Node's own callbacks. */
  napi_make_callback(env, p->async_context, global, callback, 2, argv, NULL);
done:
  /* An exception thrown by the callback must not vanish (or poison the next
   * Node-API call): report it as uncaught, as Node does for its callbacks. */
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exception) == napi_ok)
    napi_fatal_exception(env, exception);
  napi_close_handle_scope(env, scope);
}

static bool get_events(napi_env env, napi_value value, int *uv_events) {
  int64_t events;
  if (!berth_get_int(env, value, "events", 1, 3, &events))
    return false;
  *uv_events = ((events & BERTH_POLL_READABLE) ? UV_READABLE : 0) |
               ((events & BERTH_POLL_WRITABLE) ? UV_WRITABLE : 0);
  return true;
}

/* Unwrap a handle object, refusing anything that is not one of ours. */
static berth_poll *get_poll(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, value, &poll_tag, &tagged) != napi_ok ||
      !tagged || napi_unwrap(env, value, &data) != napi_ok || data == NULL) {
    berth_throw_type(env, "handle must be a PollHandle returned by pollStart");
    return NULL;
  }
  return data;
}

static napi_value make_handle_object(napi_env env, berth_poll *p) {
  napi_value obj, fd;
  napi_property_descriptor prop = {"fd", NULL, NULL, NULL, NULL, NULL,
                                   napi_enumerable, NULL};
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_int32(env, p->fd, &fd));
  prop.value = fd;
  BERTH_NAPI(env, napi_define_properties(env, obj, 1, &prop));
  BERTH_NAPI(env, napi_type_tag_object(env, obj, &poll_tag));
  BERTH_NAPI(env, napi_object_freeze(env, obj));
  /* Last step: once wrapped, the finalizer owns the JS side of the state. */
  BERTH_NAPI(env, napi_wrap(env, obj, p, on_finalize, NULL, NULL));
  return obj;
}

napi_value berth_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[3], name, obj;
  napi_valuetype type;
  uv_loop_t *loop = NULL;
  berth_poll *p;
  struct stat st;
  int fd, uv_events, rc;

  if (!berth_get_args(env, info, 3, argv) ||
      !berth_get_fd(env, argv[0], "fd", &fd) ||
      !get_events(env, argv[1], &uv_events))
    return NULL;
  if (napi_typeof(env, argv[2], &type) != napi_ok || type != napi_function) {
    berth_throw_type(env, "callback must be a function");
    return NULL;
  }
  if (fstat(fd, &st) != 0) {
    berth_throw_errno(env, errno, "fstat");
    return NULL;
  }
  BERTH_NAPI(env, napi_get_uv_event_loop(env, &loop));
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    berth_throw_errno(env, ENOMEM, "uv_poll_init");
    return NULL;
  }
  p->env = env;
  p->fd = fd;
  p->dev = st.st_dev;
  p->ino = st.st_ino;
  /* Fails (without registering anything) for fds the loop already watches
   * (EEXIST), closed fds, and fds the OS cannot poll (regular files).
   * Note: it also switches the fd to non-blocking mode. */
  rc = uv_poll_init(loop, &p->handle, fd);
  if (rc != 0) {
    free(p);
    berth_throw_uv(env, rc, "uv_poll_init");
    return NULL;
  }
  /* From here on, failures go through begin_close (the loop owns the
   * handle now); finalized=true since no JS object owns the state yet. */
  p->finalized = true;
  if (napi_create_reference(env, argv[2], 1, &p->callback) != napi_ok ||
      napi_create_string_utf8(env, "BerthPoll", NAPI_AUTO_LENGTH, &name) !=
          napi_ok ||
      napi_async_init(env, NULL, name, &p->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, p, &p->cleanup_hook) !=
          napi_ok) {
    begin_close(p);
    berth_throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  rc = uv_poll_start(&p->handle, uv_events, on_poll);
  if (rc != 0) {
    begin_close(p);
    berth_throw_uv(env, rc, "uv_poll_start");
    return NULL;
  }
  p->finalized = false;
  obj = make_handle_object(env, p);
  if (obj == NULL) {
    p->finalized = true;
    begin_close(p);
  }
  return obj;
}

napi_value berth_poll_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  berth_poll *p;
  struct stat st;
  int uv_events, rc;
  if (!berth_get_args(env, info, 2, argv) ||
      (p = get_poll(env, argv[0])) == NULL ||
      !get_events(env, argv[1], &uv_events))
    return NULL;
  if (p->closing) {
    berth_throw_custom(env, "EBADF", UV_EBADF, "uv_poll_start",
                       "EBADF: poll handle was stopped, uv_poll_start");
    return NULL;
  }
  /* libuv aborts the process if epoll/kqueue rejects a watched fd, which
   * happens when the fd was closed (or closed and reused) before pollStop.
   * Refuse such an update instead. */
  if (fstat(p->fd, &st) != 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
    berth_throw_custom(env, "EBADF", UV_EBADF, "uv_poll_start",
                       "EBADF: fd was closed before pollStop, uv_poll_start");
    return NULL;
  }
  rc = uv_poll_start(&p->handle, uv_events, on_poll);
  if (rc != 0) {
    berth_throw_uv(env, rc, "uv_poll_start");
    return NULL;
  }
  return NULL; /* undefined */
}

napi_value berth_poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  berth_poll *p;
  if (!berth_get_args(env, info, 1, argv) ||
      (p = get_poll(env, argv[0])) == NULL)
    return NULL;
  begin_close(p); /* idempotent: a second call finds p->closing set */
  return NULL;
}
