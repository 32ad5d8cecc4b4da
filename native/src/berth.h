/*
 * Internal declarations shared by the Berth native addon's source files.
 *
 * Only the module init function is exported from the shared object (the build
 * uses -fvisibility=hidden); everything declared here has hidden visibility and
 * is only visible between the addon's own translation units.
 */
#ifndef BERTH_H
#define BERTH_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits of the API; the TypeScript wrapper mirrors them. */
#define BERTH_MAX_FDS 16
#define BERTH_MAX_RECV_BYTES (1024 * 1024)
#define BERTH_POLL_READABLE 1
#define BERTH_POLL_WRITABLE 2
/* Longest absolute path / symlink target (bytes, without the NUL), and the
 * longest single path component: Linux PATH_MAX and NAME_MAX (macOS has the
 * same NAME_MAX and a smaller PATH_MAX, so the kernel checks too). */
#define BERTH_MAX_PATH 4096
#define BERTH_MAX_NAME 255

/* ---- errors.c ---------------------------------------------------------- */

/* Throw an Error with code (errno name), errno (negative, libuv/Node style),
 * syscall, and a message built from strerror. `err` is a positive errno. */
void berth_throw_errno(napi_env env, int err, const char *syscall);
/* Same, for an already negative libuv error code. */
void berth_throw_uv(napi_env env, int uv_err, const char *syscall);
/* Build (without throwing) an Error for a libuv error code; NULL on failure. */
napi_value berth_make_uv_error(napi_env env, int uv_err, const char *syscall);
/* Throw an Error with a custom code/message (e.g. ECTRUNC). */
void berth_throw_custom(napi_env env, const char *code, int uv_err,
                        const char *syscall, const char *message);
void berth_throw_type(napi_env env, const char *message);
void berth_throw_range(napi_env env, const char *message);
/* A string of the right type but an unacceptable value ('a/b', '..', NUL):
 * TypeError, or RangeError when it is only too long. Both carry Node's
 * ERR_INVALID_ARG_VALUE code. */
void berth_throw_invalid_value(napi_env env, const char *message);
void berth_throw_invalid_length(napi_env env, const char *message);
/* Like berth_throw_errno, naming the file (and, for rename, the destination;
 * NULL otherwise) in the message and in the error's path/dest properties. */
void berth_throw_errno_path(napi_env env, int err, const char *syscall,
                            const char *path, const char *dest);
/* If a Node-API call failed, make sure some exception is pending so the
 * caller never returns to JS silently with a half-finished result. */
void berth_throw_napi_failure(napi_env env, napi_status status);

/* Evaluate a Node-API call; on failure, ensure an exception and return NULL. */
#define BERTH_NAPI(env, call)                                                  \
  do {                                                                         \
    napi_status berth_status_ = (call);                                        \
    if (berth_status_ != napi_ok) {                                            \
      berth_throw_napi_failure((env), berth_status_);                          \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* ---- args.c ------------------------------------------------------------ */

/* Fetch exactly `count` arguments (missing ones read as undefined). */
bool berth_get_args(napi_env env, napi_callback_info info, size_t count,
                    napi_value *argv);
/* Read a JS number that must be an integer in [min, max]. */
bool berth_get_int(napi_env env, napi_value value, const char *name,
                   int64_t min, int64_t max, int64_t *out);
/* Read a file descriptor: an integer in [0, INT_MAX]. */
bool berth_get_fd(napi_env env, napi_value value, const char *name, int *out);
/* Copy a JS string into buf (capacity cap, including the NUL terminator).
 * Sets *too_long instead of copying when it does not fit; sets *has_nul when
 * the string contains a NUL byte. Throws TypeError for non-strings. */
bool berth_get_string(napi_env env, napi_value value, const char *name,
                      char *buf, size_t cap, size_t *len, bool *too_long,
                      bool *has_nul);
/* A non-empty, well-formed (no lone UTF-16 surrogates), NUL-free string of at
 * most `max` UTF-8 bytes, copied into buf (capacity max + 1). Throws
 * TypeError/RangeError otherwise. */
bool berth_get_text(napi_env env, napi_value value, const char *name,
                    char *buf, size_t max, size_t *len);
/* One path component for the *at() calls: berth_get_text with at most
 * BERTH_MAX_NAME bytes, no '/', and not "." or "..". buf holds
 * BERTH_MAX_NAME + 1 bytes. */
bool berth_get_name(napi_env env, napi_value value, const char *name,
                    char *buf);

/* ---- fdutil.c ---------------------------------------------------------- */

int berth_set_cloexec(int fd);  /* 0 or -1 with errno */
int berth_set_nonblock(int fd); /* 0 or -1 with errno */
/* close() that keeps errno intact, for error paths. */
void berth_close_keep_errno(int fd);
/* close() with a reset (SO_LINGER 0), keeping errno. */
void berth_reset_close(int fd);
/* macOS: SO_NOSIGPIPE (a write to a gone peer is EPIPE, not a signal);
 * a no-op elsewhere. 0 or -1 with errno. */
int berth_set_nosigpipe(int fd);
/* Create a socket that is close-on-exec (atomically where the OS can). */
int berth_socket_cloexec(int domain, int type, bool nonblock);

/* ---- recv.c ------------------------------------------------------------ */

struct msghdr;
/* One recvmsg() that never blocks (MSG_DONTWAIT is added to `flags`),
 * retried on EINTR: the loop receiveMessage and receiveDatagram share.
 * true: a message arrived, *received bytes of it. false: *none is JS null
 * when nothing was pending (EAGAIN: the caller returns null), or NULL with
 * an exception pending (any other errno, thrown as "recvmsg"). */
bool berth_recvmsg_nowait(napi_env env, int fd, struct msghdr *msg, int flags,
                          size_t *received, napi_value *none);

/* ---- fileinfo.c -------------------------------------------------------- */

struct stat;
/* The FileStat object of the TypeScript API; NULL with an exception pending
 * on failure. */
napi_value berth_make_file_stat(napi_env env, const struct stat *st);
/* obj[key] = value (a JS number). */
napi_status berth_set_number(napi_env env, napi_value obj, const char *key,
                             double value);

/* ---- exported operations ----------------------------------------------- */

napi_value berth_peer_credentials(napi_env env, napi_callback_info info);
napi_value berth_connect_unix(napi_env env, napi_callback_info info);
napi_value berth_send_message(napi_env env, napi_callback_info info);
napi_value berth_receive_message(napi_env env, napi_callback_info info);
napi_value berth_bind_socket(napi_env env, napi_callback_info info);
napi_value berth_probe_bind(napi_env env, napi_callback_info info);
napi_value berth_poll_start(napi_env env, napi_callback_info info);
napi_value berth_poll_update(napi_env env, napi_callback_info info);
napi_value berth_poll_stop(napi_env env, napi_callback_info info);
napi_value berth_open_directory_no_follow(napi_env env,
                                          napi_callback_info info);
napi_value berth_stat_at(napi_env env, napi_callback_info info);
napi_value berth_readlink_at(napi_env env, napi_callback_info info);
napi_value berth_symlink_at(napi_env env, napi_callback_info info);
napi_value berth_rename_at(napi_env env, napi_callback_info info);
napi_value berth_unlink_at(napi_env env, napi_callback_info info);
napi_value berth_open_file_at(napi_env env, napi_callback_info info);
napi_value berth_fsync_directory(napi_env env, napi_callback_info info);
napi_value berth_set_heap_trim_threshold(napi_env env,
                                         napi_callback_info info);
/* macOS only; elsewhere it throws ENOSYS after checking its argument. */
napi_value berth_launch_activate_socket(napi_env env,
                                        napi_callback_info info);
napi_value berth_open_address_watch(napi_env env, napi_callback_info info);
napi_value berth_drain_address_watch(napi_env env, napi_callback_info info);
napi_value berth_file_limit(napi_env env, napi_callback_info info);
napi_value berth_raise_file_limit(napi_env env, napi_callback_info info);
/* datagram.c: UDP on a published port's socket (see there for why not dgram). */
napi_value berth_datagram_address(napi_env env, napi_callback_info info);
napi_value berth_receive_datagram(napi_env env, napi_callback_info info);
napi_value berth_send_datagram(napi_env env, napi_callback_info info);
/* The data plane (pump.h). */
napi_value berth_pump_open(napi_env env, napi_callback_info info);
napi_value berth_pump_add(napi_env env, napi_callback_info info);
napi_value berth_pump_close(napi_env env, napi_callback_info info);
napi_value berth_pump_stats(napi_env env, napi_callback_info info);
napi_value berth_accept_connections(napi_env env, napi_callback_info info);
napi_value berth_reset_socket(napi_env env, napi_callback_info info);
napi_value berth_socket_address(napi_env env, napi_callback_info info);

#endif /* BERTH_H */
