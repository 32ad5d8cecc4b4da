import { HOST_PORT_PATTERN, PATH_COMPONENT, REGISTRY_PATTERN } from './schema';

/**
 * Image references and the policy's registry allowlist, following Docker's
 * reference grammar (distribution/reference): what the user types is
 * normalized the way Docker would before it is matched, so `nginx`,
 * `docker.io/nginx` and `index.docker.io/library/nginx` are one image.
 */

export interface ImageReference {
  /** Lowercase `host[:port]`; Docker Hub is `docker.io`. */
  registry: string;
  /** Repository path, e.g. `library/nginx` or `team/app`. */
  path: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
/** Docker's own aliases for Docker Hub; matched as docker.io so an allowlist cannot be sidestepped by spelling. */
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io']);

const MAX_REFERENCE_LENGTH = 1024;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$/;
const COMPONENT = new RegExp(`^${PATH_COMPONENT}$`);

function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * Parses `[host[:port]/]path[:tag][@digest]`; null when it is not a valid
 * reference (so a caller enforcing a policy refuses it rather than guessing).
 */
export function parseImageReference(reference: string): ImageReference | null {
  if (reference.length === 0 || reference.length > MAX_REFERENCE_LENGTH) return null;
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return null;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return null;
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  // Docker's rule: the first component is a registry only if it looks like one (a dot, a port, localhost, or uppercase).
  const hasRegistry = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  let registry = DOCKER_HUB;
  let path = rest;
  if (hasRegistry) {
    const hostPort = HOST_PORT_PATTERN.exec(first.toLowerCase());
    if (hostPort === null || (hostPort[2] !== undefined && (Number(hostPort[2]) < 1 || Number(hostPort[2]) > 65535))) return null;
    registry = normalizeRegistry(first);
    path = rest.slice(slash + 1);
  }
  const components = path.split('/');
  if (!components.every((c) => COMPONENT.test(c))) return null;
  // Official images live under library/ on Docker Hub: `nginx` is `docker.io/library/nginx`.
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  return {
    registry,
    path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** Splits an allowlist entry into its registry and path prefix; null if malformed (the schema refuses those). */
function parseEntry(entry: string): { registry: string; prefix: string } | null {
  const match = REGISTRY_PATTERN.exec(entry.toLowerCase());
  if (match === null) return null;
  const registry = normalizeRegistry(match[2] === undefined ? match[1]! : `${match[1]!}:${match[2]}`);
  return { registry, prefix: (match[3] ?? '').replace(/^\//, '') };
}

/** Whether one allowlist entry covers an image: same registry (port included), path under the prefix on a `/` boundary. */
export function entryMatches(entry: string, image: ImageReference): boolean {
  const parsed = parseEntry(entry);
  if (parsed === null || parsed.registry !== image.registry) return false;
  return parsed.prefix === '' || image.path === parsed.prefix || image.path.startsWith(`${parsed.prefix}/`);
}

/**
 * Whether the policy lets this image be used. No policy: everything is
 * allowed. With a policy, only listed registries (an empty list allows
 * none), and a reference that does not parse is refused, never guessed at.
 */
export function registryAllowed(
  policy: { readonly allowedRegistries: readonly string[] } | null | undefined,
  imageRef: string,
): boolean {
  if (policy === null || policy === undefined) return true;
  const image = parseImageReference(imageRef);
  if (image === null) return false;
  return policy.allowedRegistries.some((entry) => entryMatches(entry, image));
}
