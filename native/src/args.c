/*
 * Argument validation. The TypeScript wrapper validates too, but the addon
 * can be called directly (or wrongly), so nothing here trusts its input.
 */
#include "berth.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

bool berth_get_args(napi_env env, napi_callback_info info, size_t count,
                    napi_value *argv) {
  size_t argc = count;
  /* Node-API fills missing arguments with undefined, so argv is always fully
   * initialised; extra arguments are ignored. */
  napi_status status = napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (status != napi_ok) {
    berth_throw_napi_failure(env, status);
    return false;
  }
  return true;
}

bool berth_get_int(napi_env env, napi_value value, const char *name,
                   int64_t min, int64_t max, int64_t *out) {
  napi_valuetype type;
  double d;
  char message[160];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    snprintf(message, sizeof(message), "%s must be a number", name);
    berth_throw_type(env, message);
    return false;
  }
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    berth_throw_type(env, "internal: could not read a number");
    return false;
  }
  /* Range first (with doubles) so the integer cast below cannot overflow;
   * NaN fails both comparisons, so test it explicitly. */
  if (isnan(d) || d < (double)min || d > (double)max) {
    snprintf(message, sizeof(message),
             "%s must be an integer between %lld and %lld", name,
             (long long)min, (long long)max);
    berth_throw_range(env, message);
    return false;
  }
  if ((double)(int64_t)d != d) {
    snprintf(message, sizeof(message), "%s must be an integer", name);
    berth_throw_range(env, message);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool berth_get_fd(napi_env env, napi_value value, const char *name, int *out) {
  int64_t v;
  if (!berth_get_int(env, value, name, 0, INT_MAX, &v))
    return false;
  *out = (int)v;
  return true;
}

bool berth_get_string(napi_env env, napi_value value, const char *name,
                      char *buf, size_t cap, size_t *len, bool *too_long,
                      bool *has_nul) {
  napi_valuetype type;
  size_t length = 0, copied = 0;
  char message[160];
  *too_long = false;
  *has_nul = false;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    snprintf(message, sizeof(message), "%s must be a string", name);
    berth_throw_type(env, message);
    return false;
  }
  /* Ask for the UTF-8 length first so an oversized string is rejected
   * without ever being copied (or silently truncated). */
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    berth_throw_type(env, "internal: could not read a string");
    return false;
  }
  *len = length;
  if (length >= cap) {
    *too_long = true;
    return true;
  }
  if (napi_get_value_string_utf8(env, value, buf, cap, &copied) != napi_ok ||
      copied != length) {
    berth_throw_type(env, "internal: could not copy a string");
    return false;
  }
  /* An embedded NUL would make C see a shorter (different) string. */
  *has_nul = strlen(buf) != length;
  return true;
}
