/**
 * launchd socket activation (macOS): the listening sockets launchd holds for
 * this process, named by the `Sockets` dictionary of its launchd.plist(5).
 * See native/src/launchd.c.
 */
import { MAX_NAME_BYTES, checkText } from './checks';
import { loadBinding } from './loader';

/**
 * The descriptors launchd bound for `Sockets.<name>` (one for a UNIX socket
 * path), close-on-exec and owned by the caller; at most 16 (more are closed
 * and refused with 'ECTRUNC'). Each call takes the sockets once: a second
 * call for the same name fails with 'EALREADY'.
 *
 * Errors carry `code`, `errno` and `syscall: 'launch_activate_socket'`:
 * 'ESRCH' when this process was not started by launchd, 'ENOENT' when its job
 * has no socket of that name, and 'ENOSYS' on every platform but macOS.
 * `name` is a non-empty, NUL-free string of at most 255 UTF-8 bytes.
 */
export function launchActivateSocket(name: string): number[] {
  checkText(name, 'name', MAX_NAME_BYTES);
  return loadBinding().launchActivateSocket(name);
}
