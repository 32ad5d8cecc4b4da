/**
 * Argument validation for the wrapper. It mirrors the addon's own checks
 * (src/args.c) so bad arguments fail with the same error classes and codes
 * before the addon is even loaded.
 */

export function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

export function rangeError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
}

/** A string of the right type with an unacceptable value ('a/b', '..', NUL). */
export function invalidValue(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** A string of the right type that is only too long. */
export function invalidLength(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

export function checkInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw typeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer between ${min} and ${max}`);
  }
}

const FD_MAX = 2 ** 31 - 1;

export function checkFd(value: unknown, name = 'fd'): asserts value is number {
  checkInteger(value, name, 0, FD_MAX);
}

/** Longest absolute path or symlink target, in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest single path component, in UTF-8 bytes (NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/** A lone (unpaired) UTF-16 surrogate: `u` mode sees pairs as one code point. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A non-empty, NUL-free string of at most `maxBytes` UTF-8 bytes with no lone
 * surrogates (they would be written as U+FFFD, so two different strings
 * would name the same file). Never truncated: a shorter name is another file.
 */
export function checkText(value: unknown, name: string, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') throw typeError(`${name} must be a string`);
  if (Buffer.byteLength(value, 'utf8') > maxBytes) throw invalidLength(`${name} must be at most ${maxBytes} bytes`);
  if (value.length === 0) throw invalidValue(`${name} must be a non-empty string`);
  if (value.includes('\0')) throw invalidValue(`${name} must not contain NUL bytes`);
  if (LONE_SURROGATE.test(value)) throw invalidValue(`${name} must not contain lone UTF-16 surrogates`);
}

/**
 * One entry of an opened directory: a '/' would make the kernel walk (and
 * follow symlinks in) a path nobody verified; '.' and '..' are not entries.
 */
export function checkName(value: unknown, name: string): asserts value is string {
  checkText(value, name, MAX_NAME_BYTES);
  if (value.includes('/')) throw invalidValue(`${name} must be a single path component`);
  if (value === '.' || value === '..') throw invalidValue(`${name} must not be '.' or '..'`);
}

/**
 * An absolute path in its one normalized spelling, so what the caller checks
 * and logs is exactly what gets opened.
 */
export function checkAbsolutePath(value: unknown, name: string): asserts value is string {
  checkText(value, name, MAX_PATH_BYTES);
  if (!value.startsWith('/')) throw invalidValue(`${name} must be absolute`);
  if (value === '/') return;
  for (const component of value.slice(1).split('/')) {
    if (component === '') throw invalidValue(`${name} must be normalized (no '//' and no trailing '/')`);
    if (component === '.' || component === '..') {
      throw invalidValue(`${name} must not contain '.' or '..' components`);
    }
    if (Buffer.byteLength(component, 'utf8') > MAX_NAME_BYTES) {
      throw invalidLength(`${name} components must be at most ${MAX_NAME_BYTES} bytes`);
    }
  }
}
