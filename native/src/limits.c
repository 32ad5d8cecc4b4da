/*
 * fileLimit() and raiseFileLimit(): the process's RLIMIT_NOFILE.
 *
 * Why: the backend keeps a reserve of file descriptors for the user's own
 * port mappings, so a flood through its other listeners (browser mode, the
 * control socket) cannot make a mapping's accept() fail; for that it must
 * know the soft limit, which Node does not expose. raiseFileLimit() lifts
 * the soft limit to the hard one at backend start, as many servers do (and
 * plain Node does at its own start; an embedder such as Electron need not).
 *
 * Both return { soft, hard }; RLIM_INFINITY reads as Infinity.
 */
#include "berth.h"

#include <errno.h>
#include <math.h>
#include <sys/resource.h>
#if defined(__APPLE__)
#include <limits.h> /* OPEN_MAX */
#endif

/* Never ask for more than this many descriptors, whatever the hard limit
 * says (Node's own raise stops at the same 2^20). */
#define BERTH_MAX_NOFILE ((rlim_t)1 << 20)

static double as_number(rlim_t value) {
  return value == RLIM_INFINITY ? (double)INFINITY : (double)value;
}

static napi_value limits_object(napi_env env) {
  struct rlimit lim;
  napi_value result;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    berth_throw_errno(env, errno, "getrlimit");
    return NULL;
  }
  BERTH_NAPI(env, napi_create_object(env, &result));
  BERTH_NAPI(env, berth_set_number(env, result, "soft", as_number(lim.rlim_cur)));
  BERTH_NAPI(env, berth_set_number(env, result, "hard", as_number(lim.rlim_max)));
  return result;
}

napi_value berth_file_limit(napi_env env, napi_callback_info info) {
  (void)info; /* no arguments; extra ones are ignored */
  return limits_object(env);
}

napi_value berth_raise_file_limit(napi_env env, napi_callback_info info) {
  struct rlimit lim;
  rlim_t want;
  (void)info;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    berth_throw_errno(env, errno, "getrlimit");
    return NULL;
  }
  want = lim.rlim_max;
  if (want == RLIM_INFINITY || want > BERTH_MAX_NOFILE)
    want = BERTH_MAX_NOFILE;
#if defined(__APPLE__)
  /* macOS refuses a soft limit above OPEN_MAX (EINVAL) even when the hard
   * limit is unlimited. */
  if (want > (rlim_t)OPEN_MAX)
    want = (rlim_t)OPEN_MAX;
#endif
  /* Only ever up: a soft limit someone set above this stays. */
  if (want > lim.rlim_cur) {
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      berth_throw_errno(env, errno, "setrlimit");
      return NULL;
    }
  }
  return limits_object(env);
}
