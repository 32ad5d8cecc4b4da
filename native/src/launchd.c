/*
 * launchActivateSocket(name): the listening sockets launchd holds for this
 * process under Sockets.<name> in its launchd.plist(5), as file descriptors.
 *
 * launch_activate_socket(3) (launch.h, macOS 10.10+) returns a malloc'd array
 * of descriptors that the caller must free(3); a UNIX socket path yields one
 * descriptor, a host:port may yield several (one per address). Its documented
 * errors: ENOENT (no socket of that name for the caller), ESRCH (the caller
 * is not a process launchd manages), EALREADY (already taken by the caller).
 *
 * Every descriptor handed to JavaScript is close-on-exec (launchd does not
 * promise it), the count is bounded, and on every failure path the
 * descriptors are closed and the array freed, so nothing leaks and nothing
 * half-taken reaches the caller. Other platforms have no launchd: after the
 * same argument checks, the call throws ENOSYS with a sentence saying so.
 */
#include "berth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#if defined(__APPLE__)
#include <launch.h>
#endif

static const char *const SYSCALL = "launch_activate_socket";

static void throw_with(napi_env env, int err, const char *detail,
                       const char *name) {
  int uv_err = uv_translate_sys_error(err);
  char code[64];
  char message[BERTH_MAX_NAME + 256];
  uv_err_name_r(uv_err, code, sizeof(code));
  snprintf(message, sizeof(message), "%s: %s (socket \"%s\"), %s", code,
           detail, name, SYSCALL);
  berth_throw_custom(env, code, uv_err, SYSCALL, message);
}

#if defined(__APPLE__)

static void close_all(const int *fds, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    if (fds[i] >= 0)
      berth_close_keep_errno(fds[i]);
}

/* The documented errors, in words; anything else gets strerror's. */
static const char *describe(int err) {
  switch (err) {
  case ENOENT:
    return "launchd holds no socket of this name for this process";
  case ESRCH:
    return "this process was not started by launchd";
  case EALREADY:
    return "this process has already taken this socket";
  default:
    return NULL;
  }
}

static napi_value activate(napi_env env, const char *name) {
  int *fds = NULL;
  size_t count = 0, i;
  int rc = launch_activate_socket(name, &fds, &count);
  napi_value array = NULL, value;
  if (rc != 0) {
    /* Documented to allocate nothing on failure; free(NULL) is a no-op. */
    free(fds);
    if (describe(rc) != NULL)
      throw_with(env, rc, describe(rc), name);
    else
      berth_throw_errno(env, rc, SYSCALL);
    return NULL;
  }
  /* A count with no array, or more descriptors than any socket we declare
   * could produce, is not an answer to trust: close what came and refuse. */
  if (count > 0 && fds == NULL) {
    throw_with(env, EPROTO, "launchd returned a count but no descriptors", name);
    return NULL;
  }
  if (count > BERTH_MAX_FDS) {
    close_all(fds, count);
    free(fds);
    berth_throw_custom(env, "ECTRUNC", UV_EMSGSIZE, SYSCALL,
                       "ECTRUNC: launchd passed more than 16 descriptors for "
                       "one socket; all were closed, launch_activate_socket");
    return NULL;
  }
  for (i = 0; i < count; i++) {
    if (fds[i] < 0) {
      close_all(fds, count);
      free(fds);
      throw_with(env, EBADF, "launchd passed an invalid descriptor", name);
      return NULL;
    }
  }
  for (i = 0; i < count; i++) {
    if (berth_set_cloexec(fds[i]) != 0) {
      int err = errno;
      close_all(fds, count);
      free(fds);
      berth_throw_errno(env, err, "fcntl");
      return NULL;
    }
  }
  if (napi_create_array_with_length(env, count, &array) != napi_ok)
    goto napi_failed;
  for (i = 0; i < count; i++) {
    if (napi_create_int32(env, fds[i], &value) != napi_ok ||
        napi_set_element(env, array, (uint32_t)i, value) != napi_ok)
      goto napi_failed;
  }
  free(fds);
  return array;

napi_failed:
  /* The caller never sees these numbers: they are ours to close. */
  close_all(fds, count);
  free(fds);
  berth_throw_napi_failure(env, napi_generic_failure);
  return NULL;
}

#endif /* __APPLE__ */

napi_value berth_launch_activate_socket(napi_env env,
                                        napi_callback_info info) {
  napi_value argv[1];
  char name[BERTH_MAX_NAME + 1];
  size_t len = 0;
  /* Checked on every platform, so the wrapper and the addon refuse the same
   * arguments everywhere: a plist key, non-empty, NUL-free, bounded. */
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_text(env, argv[0], "name", name, BERTH_MAX_NAME, &len))
    return NULL;
#if defined(__APPLE__)
  return activate(env, name);
#else
  throw_with(env, ENOSYS, "launchd sockets exist only on macOS", name);
  return NULL;
#endif
}
