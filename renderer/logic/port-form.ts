import type { z } from 'zod';
import type { BackendState } from '../../common/api/backend-api';
import { mappingSpec, protocolOf, type MappingProtocol, type MappingSpec, type MappingStatus } from '../../common/ports/mapping';
import { formatListen, formatTarget, parseMappingInput } from '../../common/ports/parse';
import { forwardsToItself, selfLoopMessage } from '../../common/ports/self-loop';

/**
 * The add-port form: text as typed, validated with the shared `mappingSpec`
 * (the very schema the backend applies), so an error shows next to its field
 * while the user types instead of after a round trip.
 */

export interface PortDraft {
  address: string;
  port: string;
  targetHost: string;
  targetPort: string;
}
export type PortField = keyof PortDraft;
export type FieldErrors = Partial<Record<PortField, string>>;

export const PORT_FIELDS: readonly PortField[] = ['address', 'port', 'targetHost', 'targetPort'];

export const EMPTY_DRAFT: PortDraft = { address: '127.0.0.1', port: '', targetHost: 'localhost', targetPort: '' };

/** Digits become a number; anything else stays text so the schema reports it; empty is missing. */
function portValue(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return /^\d{1,6}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

const PORT_RANGE = 'must be a whole number from 1 to 65535';

/**
 * Friendlier words for zod's generic issues. Messages the shared schemas set
 * themselves (e.g. "must be a literal IPv4 or IPv6 address") take precedence
 * over this map, so the form says exactly what the backend would.
 */
const friendly: z.core.$ZodErrorMap = (issue) => {
  const field = issue.path?.join('.');
  const isPort = field === 'port' || field === 'target.port';
  if (isPort) return issue.input === undefined ? 'enter a port from 1 to 65535' : PORT_RANGE;
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (field === 'address' && issue.code === 'too_small') return 'enter the address to listen on, e.g. 127.0.0.1';
  if (issue.code === 'too_big') return 'is too long';
  return undefined;
};

function fieldOf(path: readonly PropertyKey[]): PortField | undefined {
  const key = path.map(String).join('.');
  if (key === 'address') return 'address';
  if (key === 'port') return 'port';
  if (key === 'target.host') return 'targetHost';
  if (key === 'target.port') return 'targetPort';
  return undefined;
}

/** "must be …" → "Must be …." for display next to a field. */
export function asSentence(message: string): string {
  const text = message.trim();
  if (text === '') return text;
  const capital = text[0]!.toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

export interface DraftCheck {
  /** The mapping to send, when every field is valid. */
  spec: MappingSpec | null;
  errors: FieldErrors;
  /** How a whole mapping typed into the Port field was read, e.g. `Understood "8080:80" as 127.0.0.1:8080 → 127.0.0.1:80.` */
  understood?: string;
}

/** `53/udp` (or `/tcp`) in the Port field: the port, with Docker's protocol suffix. */
const PORT_WITH_PROTOCOL = /^\s*(\d{1,6})\s*\/\s*(tcp|udp)\s*$/i;

/** The Port field's port and protocol: `53/udp` is UDP port 53; no suffix is TCP. */
function portField(text: string): { port: string; protocol: MappingProtocol } {
  const match = PORT_WITH_PROTOCOL.exec(text);
  if (match === null) return { port: text, protocol: 'tcp' };
  return { port: match[1]!, protocol: match[2]!.toLowerCase() === 'udp' ? 'udp' : 'tcp' };
}

/** The protocol the draft asks for (the Port field's suffix, or a whole mapping's). */
export function draftProtocol(draft: PortDraft): MappingProtocol {
  if (PORT_WITH_PROTOCOL.test(draft.port)) return portField(draft.port).protocol;
  return /\/\s*udp\s*$/i.test(draft.port) ? 'udp' : 'tcp';
}

/** A whole mapping in the Port field (Docker's `8080:80`, Berth's `80=3000`, `/tcp`), as people paste it. */
function mappingInPortField(text: string): boolean {
  return !PORT_WITH_PROTOCOL.test(text) && /[:=/]/.test(text.trim());
}

/** The backend refuses a second listener on the same address, port and protocol: said before sending. */
function alreadyPublished(spec: MappingSpec, existing: readonly MappingStatus[]): string | undefined {
  const taken = existing.some((m) => m.spec.address === spec.address && m.spec.port === spec.port && protocolOf(m.spec) === protocolOf(spec));
  if (!taken) return undefined;
  return `${spec.address} ${protocolOf(spec) === 'udp' ? 'UDP port' : 'port'} ${spec.port} is already published.`;
}

/** The Port field holds a whole mapping: the one shared parser reads it, and the other fields give way to it. */
function checkMappingText(text: string, existing: readonly MappingStatus[]): DraftCheck {
  let spec: MappingSpec;
  let understood: string | undefined;
  try {
    ({ spec, understood } = parseMappingInput(text));
  } catch (error) {
    return { spec: null, errors: { port: asSentence(error instanceof Error ? error.message : String(error)) } };
  }
  const said = understood ?? `Understood ${JSON.stringify(text.trim())} as ${formatListen(spec)} → ${formatTarget(spec.target)}.`;
  const taken = alreadyPublished(spec, existing);
  if (taken !== undefined) return { spec: null, errors: { port: taken }, understood: said };
  return { spec, errors: {}, understood: said };
}

export function checkDraft(draft: PortDraft, existing: readonly MappingStatus[] = []): DraftCheck {
  if (mappingInPortField(draft.port)) return checkMappingText(draft.port, existing);
  const listen = portField(draft.port);
  const candidate = {
    address: draft.address.trim(),
    port: portValue(listen.port),
    target: { host: draft.targetHost.trim(), port: portValue(draft.targetPort) },
    // TCP carries no protocol (as every mapping before UDP); UDP says so.
    ...(listen.protocol === 'udp' ? { protocol: 'udp' as const } : {}),
  };
  const parsed = mappingSpec.safeParse(candidate, { error: friendly });
  if (!parsed.success) {
    const errors: FieldErrors = {};
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      if (field !== undefined && errors[field] === undefined) errors[field] = asSentence(issue.message);
    }
    return { spec: null, errors };
  }
  const spec = parsed.data;
  // The backend refuses it too (with this machine's addresses); said here while typing.
  if (forwardsToItself(spec)) return { spec: null, errors: { targetPort: asSentence(selfLoopMessage(spec)) } };
  const taken = alreadyPublished(spec, existing);
  if (taken !== undefined) return { spec: null, errors: { port: taken } };
  return { spec, errors: {} };
}

/** The port as typed, when it is a whole number (for advice shown while typing). */
export function typedPort(draft: PortDraft): number | null {
  const value = portValue(portField(draft.port).port);
  return typeof value === 'number' && value >= 1 && value <= 65535 ? value : null;
}

export interface PrivilegedAdvice {
  tone: 'warning' | 'error';
  text: string;
  /** Where the fix is: the helper status card, or a setting. */
  fix: 'helper' | 'settings' | 'none';
}

const isAnyAddress = (address: string): boolean => address === '0.0.0.0' || address === '::';

/**
 * 127.0.0.0/8, ::1 or an IPv4-mapped 127.x, however spelled. Not
 * common/policy/port-rule-check's: that one uses node:net's BlockList, which
 * the sandboxed renderer does not load. URL gives IPv6 its one spelling.
 */
function isLoopback(address: string): boolean {
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) return true;
  if (!address.includes(':')) return false;
  try {
    const host = new URL(`http://[${address}]/`).hostname;
    return host === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
  } catch {
    return false;
  }
}

/**
 * A port below 1024 needs either a direct bind the OS allows for this address,
 * or a running helper with privileged port mapping on. Said before submitting,
 * so the user learns what to enable rather than meeting an error.
 */
export function privilegedAdvice(address: string, port: number | null, state: BackendState, protocol: MappingProtocol = 'tcp'): PrivilegedAdvice | null {
  if (port === null || port >= 1024) return null;
  const caps = state.capabilities;
  const direct = isAnyAddress(address.trim()) ? caps.directLowPortBind.anyAddress : caps.directLowPortBind.specificAddress;
  if (direct) return null;
  // The helper serves privileged UDP on loopback only, unless the policy allows more (backend and helper refuse it too).
  const udpScope = caps.policy.portRules?.udp ?? 'loopback';
  if (protocol === 'udp' && udpScope === 'loopback' && address.trim() !== '' && !isLoopback(address.trim())) {
    return {
      tone: 'error',
      text: 'UDP ports below 1024 are served on loopback addresses only (127.0.0.1, ::1) unless your organization’s policy allows more. Use 127.0.0.1, or a port from 1024 up.',
      fix: 'none',
    };
  }
  const why = caps.directLowPortBind.detail;
  if (caps.userMode !== null) {
    return {
      tone: 'error',
      text: `In user mode, ports below 1024 work only where the system allows them without a helper, and here it does not (${why}). Choose a port from 1024 up.`,
      fix: 'none',
    };
  }
  if (!state.settings.privilegedPortMapping) {
    if (state.locked.privilegedPortMapping === false) {
      const org = caps.policy.organization ?? 'your organization';
      return { tone: 'error', text: `Ports below 1024 are turned off by ${org}. Choose a port from 1024 up.`, fix: 'none' };
    }
    return {
      tone: 'warning',
      text: 'Ports below 1024 need "Privileged port mapping". Turn it on in Settings, or choose a port from 1024 up.',
      fix: 'settings',
    };
  }
  // The backend's diagnosis (common/helper/diagnosis.ts): the same sentence and fix as the helper card and the CLI.
  const { diagnosis } = caps.helper;
  switch (diagnosis.condition) {
    case 'running':
    case 'needs-update':
      return null;
    case 'user-mode':
      return { tone: 'error', text: `Ports below 1024 are not available in user mode here (${why}). Choose a port from 1024 up.`, fix: 'none' };
    default: {
      const fix = diagnosis.fix === null ? '' : ` ${diagnosis.fix}`;
      return {
        tone: diagnosis.condition === 'impostor' || diagnosis.condition === 'error' ? 'error' : 'warning',
        text: `Ports below 1024 need the helper. ${diagnosis.sentence}${fix} Or choose a port from 1024 up.`,
        // The helper card holds the button that fixes it, when the install prompt is the fix.
        fix: diagnosis.prompt !== null ? 'helper' : 'none',
      };
    }
  }
}
