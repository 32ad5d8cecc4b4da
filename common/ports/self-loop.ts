import { isIP } from 'node:net';
import type { MappingSpec } from './mapping';

/**
 * Does a mapping forward to its own listener? Such a mapping turns one
 * connection into an endless chain: each accepted connection opens another
 * to the same port (issue 13: `ports add 8089=8089` and one request made
 * about 10,000 connections in 2 s). Refused wherever a mapping comes in.
 *
 * Only what is certain without DNS is judged: the same literal address
 * (any spelling), `localhost`, loopback addresses, and for an any-address
 * listener (0.0.0.0, ::) every loopback or local address. Other names are
 * not resolved here.
 */

/** `::ffff:127.0.0.1` → `127.0.0.1`; IPv6 in its short lower-case form; undefined when not a literal. */
function canonicalIp(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text.split('.').map((part) => String(Number(part))).join('.');
  if (family !== 6) return undefined;
  try {
    // URL gives IPv6 its one canonical spelling (`0:0::1` → `::1`), in browsers and in Node alike.
    const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const high = parseInt(mapped[1]!, 16);
      const low = parseInt(mapped[2]!, 16);
      return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
    }
    return host;
  } catch {
    return undefined;
  }
}

const ANY = new Set(['0.0.0.0', '::']);

function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip);
}

/** A literal address that names this machine whatever it listens on. */
function isLocal(ip: string, localAddresses: readonly string[]): boolean {
  return isLoopback(ip) || ANY.has(ip) || localAddresses.some((local) => canonicalIp(local) === ip);
}

/**
 * True when `spec`'s target is the listener itself. `localAddresses` are this
 * machine's interface addresses (the backend passes them; without them only
 * loopback and the same literal are caught).
 */
export function forwardsToItself(spec: MappingSpec, localAddresses: readonly string[] = []): boolean {
  if (spec.port !== spec.target.port) return false;
  const listen = canonicalIp(spec.address);
  if (listen === undefined) return false;
  const name = spec.target.host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    // localhost is 127.0.0.1 or ::1 (RFC 6761): a listener on either, or on every address, is reached.
    return ANY.has(listen) || listen === '127.0.0.1' || listen === '::1';
  }
  const target = canonicalIp(name);
  if (target === undefined) return false;
  if (target === listen) return true;
  // A connection to 0.0.0.0 or :: goes to this machine, so it reaches a listener on 127.0.0.1 or ::1 too.
  if (ANY.has(target) && (listen === '127.0.0.1' || listen === '::1')) return true;
  return ANY.has(listen) && isLocal(target, localAddresses);
}

/** The sentence for a self-forwarding mapping, with the fix. */
export function selfLoopMessage(spec: MappingSpec): string {
  const udp = spec.protocol === 'udp';
  const listen = `${spec.address.includes(':') ? `[${spec.address}]:${spec.port}` : `${spec.address}:${spec.port}`}${udp ? '/udp' : ''}`;
  const target = spec.target.host.includes(':') ? `[${spec.target.host}]:${spec.target.port}` : `${spec.target.host}:${spec.target.port}`;
  // UDP loops too: each datagram forwarded to the listener comes back in as a new one.
  const effect = udp ? 'every datagram would be sent back to it without end' : 'every connection would open another without end';
  return `${listen} → ${target} forwards to itself, so ${effect}; give a different target port (where your server listens), e.g. ${spec.port === 8080 ? 8081 : 8080}`;
}
