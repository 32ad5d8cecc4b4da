import { z } from 'zod';
import { settingsShape, toggleShape, type SettingKey, type Settings, type ToggleKey } from '../../../common/settings/schema';

/**
 * What each setting accepts, read from the one settings schema (so a key
 * added there is described, parsed and validated here without a second
 * list): the CLI parses words with it, and every error names the values.
 */

export const SETTING_KEYS = Object.keys(settingsShape) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(settingsShape, key);
}

/**
 * The settings that are the user's to choose (the ones Settings shows, and an
 * organization may lock). The others (the first-run answer, the helper update
 * last asked about) are the app's memory of what it asked: `berth settings`
 * neither lists nor changes them.
 */
export const USER_SETTING_KEYS = Object.keys(toggleShape) as ToggleKey[];

export function isUserSettingKey(key: string): key is ToggleKey {
  return Object.prototype.hasOwnProperty.call(toggleShape, key);
}

export type SettingKind =
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'text'; nullable: boolean; maxLength: number | null };

/** The kind of value a key takes, from its zod schema. */
export function settingKind(key: SettingKey): SettingKind {
  let schema: z.ZodType = settingsShape[key];
  let nullable = false;
  if (schema instanceof z.ZodNullable) {
    nullable = true;
    schema = schema.unwrap() as z.ZodType;
  }
  if (schema instanceof z.ZodBoolean) return { kind: 'boolean' };
  if (schema instanceof z.ZodEnum) return { kind: 'enum', values: schema.options.map(String) };
  if (schema instanceof z.ZodString) return { kind: 'text', nullable, maxLength: schema.maxLength };
  // A new kind of setting must be taught to the CLI parser below; fail loudly in tests, not silently.
  throw new Error(`setting ${key} has a kind the settings tools do not know`);
}

/** "true or false", "system or user": what a key accepts, for error messages and help. */
export function describeValues(key: SettingKey): string {
  const kind = settingKind(key);
  switch (kind.kind) {
    case 'boolean':
      return 'true or false (also on/off)';
    case 'enum':
      return kind.values.length === 2 ? `${kind.values[0]} or ${kind.values[1]}` : `one of ${kind.values.join(', ')}`;
    case 'text':
      return `text${kind.maxLength === null ? '' : ` of up to ${kind.maxLength} characters`}${kind.nullable ? ', or null' : ''}`;
  }
}

/** A value as a person reads it: true, user, null. */
export function formatValue(value: Settings[SettingKey]): string {
  return value === null ? 'null' : String(value);
}

/**
 * Parses what a person typed for `key`: true/false/on/off (and yes/no, 1/0)
 * for booleans, the enum's words as they are, text as is (`null` clears a
 * nullable one). Undefined when the word is not one the key takes; the
 * store validates again, so this is convenience, not the gate.
 */
export function parseSettingValue(key: SettingKey, word: string): Settings[SettingKey] | undefined {
  const kind = settingKind(key);
  switch (kind.kind) {
    case 'boolean': {
      const lower = word.toLowerCase();
      if (['true', 'on', 'yes', '1'].includes(lower)) return true;
      if (['false', 'off', 'no', '0'].includes(lower)) return false;
      return undefined;
    }
    case 'enum':
      return kind.values.find((v) => v === word.toLowerCase()) as Settings[SettingKey] | undefined;
    case 'text':
      if (kind.nullable && word === 'null') return null;
      return word;
  }
}

/** One line per key for `berth settings --help` and docs; a Record, so a new key without a line fails to compile. */
export const SETTING_DESCRIPTIONS: Record<SettingKey, string> = {
  privilegedPortMapping: 'ask the helper for ports below 1024 that the OS will not let you bind',
  cliToolsLocation: 'where the CLI tools are linked: system (/usr/local/bin, via the helper) or user (~/.berth/bin)',
  hostsEntries: 'keep localhost and berth.internal in /etc/hosts (via the helper)',
  startAtLogin: 'start Berth when you log in',
  consent: 'your answer to the first-run screen: undecided (ask again), install, or limited',
  helperUpdateAskedFor: 'the helper version you were last asked to update to (null: not asked yet)',
};
