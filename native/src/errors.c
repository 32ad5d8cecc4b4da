/*
 * Error helpers: every failure surfaces in JS as an Error object shaped like
 * Node's own system errors ({ code: 'EACCES', errno: -13, syscall: 'bind' }),
 * or as a TypeError/RangeError for bad arguments.
 */
#include "berth.h"

#include <stdio.h>
#include <uv.h>

/* Set obj[key] = string value; ignore failures (best effort decoration). */
static void set_string(napi_env env, napi_value obj, const char *key,
                       const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

static napi_value make_error(napi_env env, const char *code, int uv_err,
                             const char *syscall, const char *message) {
  napi_value js_code, js_msg, error, js_errno;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_msg) != napi_ok ||
      napi_create_error(env, js_code, js_msg, &error) != napi_ok)
    return NULL;
  /* errno follows Node's convention: the negative libuv error number. */
  if (napi_create_int32(env, uv_err, &js_errno) == napi_ok)
    napi_set_named_property(env, error, "errno", js_errno);
  set_string(env, error, "syscall", syscall);
  return error;
}

napi_value berth_make_uv_error(napi_env env, int uv_err, const char *syscall) {
  char name[64];
  char desc[128];
  char message[256];
  /* The _r variants write into our buffers; uv_err_name() would leak memory
   * for unknown error numbers. */
  uv_err_name_r(uv_err, name, sizeof(name));
  uv_strerror_r(uv_err, desc, sizeof(desc));
  snprintf(message, sizeof(message), "%s: %s, %s", name, desc, syscall);
  return make_error(env, name, uv_err, syscall, message);
}

void berth_throw_uv(napi_env env, int uv_err, const char *syscall) {
  napi_value error = berth_make_uv_error(env, uv_err, syscall);
  if (error != NULL)
    napi_throw(env, error);
  else
    napi_throw_error(env, NULL, "Berth native: failed to create an error");
}

void berth_throw_errno(napi_env env, int err, const char *syscall) {
  berth_throw_uv(env, uv_translate_sys_error(err), syscall);
}

void berth_throw_errno_path(napi_env env, int err, const char *syscall,
                            const char *path, const char *dest) {
  int uv_err = uv_translate_sys_error(err);
  char name[64];
  char desc[128];
  /* Paths are at most BERTH_MAX_PATH bytes and destinations are single
   * names, so the message is never truncated. */
  char message[BERTH_MAX_PATH + BERTH_MAX_NAME + 256];
  napi_value error;
  uv_err_name_r(uv_err, name, sizeof(name));
  uv_strerror_r(uv_err, desc, sizeof(desc));
  /* Node's own format, so the culprit shows up in logs and audit records. */
  if (dest != NULL)
    snprintf(message, sizeof(message), "%s: %s, %s '%s' -> '%s'", name, desc,
             syscall, path, dest);
  else
    snprintf(message, sizeof(message), "%s: %s, %s '%s'", name, desc, syscall,
             path);
  error = make_error(env, name, uv_err, syscall, message);
  if (error == NULL) {
    napi_throw_error(env, NULL, "Berth native: failed to create an error");
    return;
  }
  set_string(env, error, "path", path);
  if (dest != NULL)
    set_string(env, error, "dest", dest);
  napi_throw(env, error);
}

void berth_throw_custom(napi_env env, const char *code, int uv_err,
                        const char *syscall, const char *message) {
  napi_value error = make_error(env, code, uv_err, syscall, message);
  if (error != NULL)
    napi_throw(env, error);
  else
    napi_throw_error(env, code, message);
}

/* Argument errors carry Node's conventional codes so callers can tell them
 * apart from system errors. */
void berth_throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

void berth_throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
}

void berth_throw_invalid_value(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
}

void berth_throw_invalid_length(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", message);
}

void berth_throw_napi_failure(napi_env env, napi_status status) {
  bool pending = false;
  const napi_extended_error_info *info = NULL;
  /* A JS exception is already on its way; throwing another would replace it. */
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    return;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL &&
      info->error_message != NULL) {
    char message[256];
    snprintf(message, sizeof(message), "Berth native: Node-API call failed: %s",
             info->error_message);
    napi_throw_error(env, "ERR_BERTH_NAPI", message);
    return;
  }
  (void)status;
  napi_throw_error(env, "ERR_BERTH_NAPI", "Berth native: Node-API call failed");
}
