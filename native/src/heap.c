/*
 * setHeapTrimThreshold(bytes): how much freed memory glibc's malloc keeps at
 * the top of the heap before it gives it back to the kernel.
 *
 * Why: the app's port forwarder moves data in the 64 KiB buffers Node reads
 * sockets into; V8 frees them in batches at garbage collection. With glibc's
 * default (128 KiB, raised dynamically with the mmap threshold) each batch is
 * returned with brk() and taken back with fresh page faults on the next
 * burst: bench/forwarder measured a single stream at a third of socat's
 * throughput, and ~3x socat with the threshold at 64 MiB. No maintained
 * N-API package exposes mallopt().
 *
 * Returns true when the threshold was set; false where the C library is not
 * glibc (musl, macOS), where there is nothing to tune this way.
 */
#include "berth.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Upper bound on what a caller may ask for: the memory a process may keep. */
#define BERTH_MAX_TRIM_THRESHOLD (1024LL * 1024 * 1024)

napi_value berth_set_heap_trim_threshold(napi_env env,
                                         napi_callback_info info) {
  napi_value argv[1];
  int64_t bytes;
  bool set = false;
  napi_value result = NULL;
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_int(env, argv[0], "bytes", 0, BERTH_MAX_TRIM_THRESHOLD,
                     &bytes))
    return NULL;
#if defined(__GLIBC__)
  /* mallopt returns 1 on success. Setting it also stops glibc's dynamic
   * adjustment of the threshold, which is the point. */
  set = mallopt(M_TRIM_THRESHOLD, (int)bytes) == 1;
#else
  (void)bytes;
#endif
  if (napi_get_boolean(env, set, &result) != napi_ok)
    return NULL;
  return result;
}
