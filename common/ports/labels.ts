import type { MappingSpec } from './mapping';

/**
 * How a published port reads wherever it is shown: the popover's rows, the
 * tray menu and the audit view use these words, so they all say the same.
 */

/** "127.0.0.1:80", "[::1]:80": how an address and port read in a URL. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** "127.0.0.1:80 → localhost:8080": where it listens and where it forwards. */
export function routeText(spec: MappingSpec): string {
  return `${hostPort(spec.address, spec.port)} → ${hostPort(spec.target.host, spec.target.port)}`;
}
