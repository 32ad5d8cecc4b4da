/*
 * openDirectoryNoFollow(path): open an absolute directory path one component
 * at a time from '/', each relative to the previous descriptor with
 * O_NOFOLLOW, so no component can be a symlink. Returns the last descriptor
 * and the owner and mode of every directory walked, so the caller can check
 * that nobody but root could have swapped anything along the way.
 */
#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(O_DIRECTORY) || !defined(O_NOFOLLOW) || !defined(O_CLOEXEC)
/* Without them a component could be a symlink: refuse to build at all. */
#error "O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC are required"
#endif

/* O_RDONLY (not O_PATH / O_SEARCH): the result must work with fsync and
 * fdopendir-style reads on Linux and macOS alike. */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Only one spelling per directory is accepted, so what the caller checked
 * (and logs) is exactly what was opened: absolute, no empty components, no
 * "." or "..", no trailing slash except for "/" itself. */
static bool check_normalized(napi_env env, const char *path, size_t len) {
  size_t start, end;
  if (path[0] != '/') {
    berth_throw_invalid_value(env, "path must be absolute");
    return false;
  }
  if (len == 1)
    return true;
  for (start = 1; start <= len; start = end + 1) {
    size_t n;
    end = start;
    while (end < len && path[end] != '/')
      end++;
    n = end - start;
    if (n == 0) {
      berth_throw_invalid_value(
          env, "path must be normalized (no '//' and no trailing '/')");
      return false;
    }
    /* ".." would leave a directory the caller meant to verify, and "."
     * would report the same directory twice. */
    if ((n == 1 && path[start] == '.') ||
        (n == 2 && path[start] == '.' && path[start + 1] == '.')) {
      berth_throw_invalid_value(env,
                                "path must not contain '.' or '..' components");
      return false;
    }
    if (n > BERTH_MAX_NAME) {
      berth_throw_invalid_length(env,
                                 "path components must be at most 255 bytes");
      return false;
    }
  }
  return true;
}

/* fstat the freshly opened directory `fd` (reached as `path`, a NUL-
 * terminated prefix of the caller's path) into {path, uid, gid, mode}. */
static napi_value make_component(napi_env env, int fd, const char *path) {
  struct stat st;
  napi_value obj, js_path;
  memset(&st, 0, sizeof(st));
  /* The stat comes from the descriptor, not the name, so it describes
   * exactly the directory that will be used, whatever the name points to
   * by now. */
  if (fstat(fd, &st) != 0) {
    berth_throw_errno_path(env, errno, "fstat", path, NULL);
    return NULL;
  }
  /* O_DIRECTORY already guarantees this; checked again because everything
   * after this point relies on it. */
  if (!S_ISDIR(st.st_mode)) {
    berth_throw_errno_path(env, ENOTDIR, "openat", path, NULL);
    return NULL;
  }
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env,
             napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &js_path));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "path", js_path));
  BERTH_NAPI(env, berth_set_number(env, obj, "uid", (double)st.st_uid));
  BERTH_NAPI(env, berth_set_number(env, obj, "gid", (double)st.st_gid));
  BERTH_NAPI(env,
             berth_set_number(env, obj, "mode", (double)(st.st_mode & 07777)));
  return obj;
}

static napi_value make_result(napi_env env, int fd, napi_value components) {
  napi_value obj, js_fd;
  BERTH_NAPI(env, napi_create_object(env, &obj));
  BERTH_NAPI(env, napi_create_int32(env, fd, &js_fd));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "fd", js_fd));
  BERTH_NAPI(env, napi_set_named_property(env, obj, "components", components));
  return obj;
}

/* Walk `path` (validated, length len; cut in place at each component) and
 * return the final descriptor, or -1 with an exception pending. */
static int walk(napi_env env, char *path, size_t len, napi_value components) {
  napi_value component;
  uint32_t index = 0;
  size_t start, end;
  int fd = open("/", DIR_FLAGS);
  if (fd < 0) {
    berth_throw_errno_path(env, errno, "open", "/", NULL);
    return -1;
  }
  component = make_component(env, fd, "/");
  if (component == NULL ||
      napi_set_element(env, components, index++, component) != napi_ok)
    goto fail;
  for (start = 1; start < len; start = end + 1) {
    int next;
    end = start;
    while (end < len && path[end] != '/')
      end++;
    /* Cut the path after this component: path + start is the name for
     * openat, and path itself is what error messages and components show. */
    path[end] = '\0';
    /* Relative to the previous descriptor, never to a path: a parent
     * swapped for a symlink after it was opened changes nothing. */
    next = openat(fd, path + start, DIR_FLAGS);
    if (next < 0) {
      /* ELOOP (or ENOTDIR) for a symlink, ENOTDIR for a file. */
      berth_throw_errno_path(env, errno, "openat", path, NULL);
      goto fail;
    }
    (void)close(fd);
    fd = next;
    component = make_component(env, fd, path);
    if (component == NULL ||
        napi_set_element(env, components, index++, component) != napi_ok)
      goto fail;
    if (end < len)
      path[end] = '/';
  }
  return fd;
fail:
  berth_throw_napi_failure(env, napi_generic_failure); /* no-op if pending */
  (void)close(fd);
  return -1;
}

napi_value berth_open_directory_no_follow(napi_env env,
                                          napi_callback_info info) {
  napi_value argv[1], components, result;
  char path[BERTH_MAX_PATH + 1];
  size_t len = 0;
  int fd;
  if (!berth_get_args(env, info, 1, argv) ||
      !berth_get_text(env, argv[0], "path", path, BERTH_MAX_PATH, &len) ||
      !check_normalized(env, path, len))
    return NULL;
  BERTH_NAPI(env, napi_create_array(env, &components));
  fd = walk(env, path, len, components);
  if (fd < 0)
    return NULL;
  result = make_result(env, fd, components);
  /* Never leak the descriptor when the result cannot be handed over. */
  if (result == NULL)
    (void)close(fd);
  return result;
}
