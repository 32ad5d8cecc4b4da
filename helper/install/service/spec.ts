import { z } from 'zod';

/**
 * What the service definitions are generated from. Every string ends up in a
 * root-owned file that the OS service manager reads and acts on as root, so
 * each is validated here before any text is produced.
 */
export interface ServiceSpec {
  /** Reverse-DNS job label and unit name, e.g. 'dev.berth.helper'. */
  label: string;
  /** Absolute argv of the installed helper (argv[0] is the program launchd/systemd executes). */
  helperCommand: string[];
  /**
   * Where the service manager creates the listening socket: root's, mode
   * 0666, in a root-owned 0755 directory. Who is served is the helper's
   * decision, per connection, from the enrolled uids in its config, so
   * enrolment never changes the service definition.
   */
  socketPath: string;
  /**
   * The root-owned directory the installer put the helper in. When given, the
   * systemd sandbox leaves it writable so the `uninstall` operation can remove
   * it; when absent, uninstall must remove it from outside the sandbox.
   */
  installDir?: string;
}

/** Names for the characters we refuse, so the error says which one it was. */
const NAMED: Record<string, string> = {
  '\0': 'a NUL byte',
  '\n': 'a newline',
  '\r': 'a carriage return',
  '\t': 'a tab',
  '"': 'a double quote',
  "'": 'a single quote',
  '\\': 'a backslash',
  '%': "a '%' (systemd expands it as a specifier)",
  $: "a '$' (systemd expands it as a variable in ExecStart)",
};

/**
 * Refused anywhere in the spec. Controls would end a unit-file line or are not
 * representable in XML 1.0 at all; quotes and backslashes would end or escape
 * a quoted ExecStart word; '%' and '$' are expanded by systemd. Refusing
 * instead of escaping keeps every value verbatim in both formats: no real
 * install path needs any of them. (\p{Cc} is C0, DEL and C1; lone surrogates
 * cannot be written as UTF-8; U+FFFE/U+FFFF are not XML characters; U+2028
 * and U+2029 are line and paragraph separators to many tools that read units.)
 */
export const UNSAFE_CHARACTERS = /[\p{Cc}"'\\%$\ufffe\uffff\u2028\u2029]|\p{Cs}/u;

function describeUnsafe(value: string): string | undefined {
  const match = UNSAFE_CHARACTERS.exec(value);
  if (match === null) return undefined;
  const ch = match[0];
  const code = ch.codePointAt(0) ?? 0;
  return `contains ${NAMED[ch] ?? `the character U+${code.toString(16).toUpperCase().padStart(4, '0')}`}`;
}

const safeText = z.string().superRefine((value, ctx) => {
  const problem = describeUnsafe(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Absolute and normalized: no '.', '..' or empty components for a service manager to reinterpret. */
function isNormalizedAbsolute(p: string): boolean {
  return p.startsWith('/') && p !== '/' && !p.endsWith('/') && !p.slice(1).split('/').some((c) => c === '' || c === '.' || c === '..');
}

const absolutePath = safeText.pipe(
  z
    .string()
    .min(2)
    .max(4096)
    .refine(isNormalizedAbsolute, { message: 'must be an absolute, normalized path (not "/")' }),
);

/**
 * A path that lands in a whitespace-separated systemd list or a ListenStream=
 * value. Unlike ExecStart words these are not quoted, so whitespace is refused.
 */
const listablePath = absolutePath.refine((p) => !/\s/u.test(p), { message: 'must not contain whitespace' });

export const LABEL_PATTERN = /^[a-z0-9]+(\.[a-z0-9-]+)+$/;

export const serviceSpecSchema = z.strictObject({
  label: z
    .string()
    .max(200)
    .regex(LABEL_PATTERN, { message: 'must be reverse-DNS like "dev.berth.helper" (lowercase letters, digits, dots; hyphens after the first dot)' }),
  helperCommand: z
    .array(safeText.pipe(z.string().min(1, { message: 'must not be empty' }).max(4096)))
    .min(1, { message: 'must name the helper program' })
    .max(64)
    .superRefine((argv, ctx) => {
      // launchd and systemd both execute argv[0] directly, without a PATH lookup we could rely on as root.
      const program = argv[0];
      if (program !== undefined && !isNormalizedAbsolute(program)) {
        ctx.addIssue({ code: 'custom', path: [0], message: 'must be an absolute, normalized path to the program' });
      }
    }),
  // 100 bytes, as in the helper's own config: sun_path is 104 bytes on macOS, 108 on Linux, with the NUL.
  socketPath: listablePath.refine((p) => Buffer.byteLength(p) <= 100, { message: 'must fit in a UNIX socket address (100 bytes)' }),
  installDir: listablePath.optional(),
});

/** Every problem at once, each naming its field: an admin scripting the install fixes them in one go. */
function describeAll(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'spec'}: ${issue.message}`).join('; ');
}

/** Validates at runtime too: callers may build the spec from JSON or command-line flags. */
export function validateServiceSpec(spec: unknown): ServiceSpec {
  const parsed = serviceSpecSchema.safeParse(spec);
  if (!parsed.success) throw new Error(`invalid service spec: ${describeAll(parsed.error)}`);
  return parsed.data;
}
