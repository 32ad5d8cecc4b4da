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

/* True when the string holds no lone UTF-16 surrogate. V8 encodes one as
 * U+FFFD, so two different JS strings would otherwise name the same file;
 * refusing them keeps "the name checked" and "the name used" identical. */
static bool is_well_formed(napi_env env, napi_value value, bool *ok) {
  char16_t units[BERTH_MAX_PATH + 1];
  size_t count = 0, i;
  /* Every UTF-16 unit takes at least one UTF-8 byte, and the caller has
   * already bounded the UTF-8 length, so the units always fit. */
  if (napi_get_value_string_utf16(env, value, units,
                                  sizeof(units) / sizeof(units[0]),
                                  &count) != napi_ok) {
    berth_throw_type(env, "internal: could not read a string");
    return false;
  }
  *ok = true;
  for (i = 0; i < count; i++) {
    unsigned u = units[i];
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < count && units[i + 1] >= 0xDC00 &&
        units[i + 1] <= 0xDFFF) {
      i++; /* a proper pair */
    } else if (u >= 0xD800 && u <= 0xDFFF) {
      *ok = false;
      return true;
    }
  }
  return true;
}

bool berth_get_text(napi_env env, napi_value value, const char *name,
                    char *buf, size_t max, size_t *len) {
  bool too_long = false, has_nul = false, well_formed = false;
  char message[160];
  if (max > BERTH_MAX_PATH) { /* is_well_formed's buffer bounds this */
    berth_throw_type(env, "internal: text limit too large");
    return false;
  }
  if (!berth_get_string(env, value, name, buf, max + 1, len, &too_long,
                        &has_nul))
    return false;
  /* Refused outright, never truncated: a shortened name is another file. */
  if (too_long) {
    snprintf(message, sizeof(message), "%s must be at most %zu bytes", name,
             max);
    berth_throw_invalid_length(env, message);
    return false;
  }
  if (*len == 0) {
    snprintf(message, sizeof(message), "%s must be a non-empty string", name);
    berth_throw_invalid_value(env, message);
    return false;
  }
  if (has_nul) {
    snprintf(message, sizeof(message), "%s must not contain NUL bytes", name);
    berth_throw_invalid_value(env, message);
    return false;
  }
  if (!is_well_formed(env, value, &well_formed))
    return false;
  if (!well_formed) {
    snprintf(message, sizeof(message),
             "%s must not contain lone UTF-16 surrogates", name);
    berth_throw_invalid_value(env, message);
    return false;
  }
  return true;
}

bool berth_get_name(napi_env env, napi_value value, const char *name,
                    char *buf) {
  size_t len = 0;
  char message[160];
  if (!berth_get_text(env, value, name, buf, BERTH_MAX_NAME, &len))
    return false;
  /* A '/' would let the kernel walk (and follow symlinks in) a path the
   * caller never opened with openDirectoryNoFollow. */
  if (memchr(buf, '/', len) != NULL) {
    snprintf(message, sizeof(message), "%s must be a single path component",
             name);
    berth_throw_invalid_value(env, message);
    return false;
  }
  /* "." is the directory itself and ".." its parent: neither is an entry
   * the caller may create, replace or remove. */
  if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0) {
    snprintf(message, sizeof(message), "%s must not be '.' or '..'", name);
    berth_throw_invalid_value(env, message);
    return false;
  }
  return true;
}
