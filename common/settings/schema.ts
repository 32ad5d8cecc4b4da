import { z } from 'zod';

/**
 * The user's settings: one schema for the UI, the CLI, the settings file and
 * the organization policy's locked values.
 */

/** The toggles a user (or an organization's policy) controls. */
export const toggleShape = {
  /** Ask the helper for ports the OS will not let the user bind. */
  privilegedPortMapping: z.boolean(),
  /** Where the CLI tools are linked: System (/usr/local/bin, via the helper) or User (~/.berth/bin). */
  cliToolsLocation: z.enum(['system', 'user']),
  /** Keep `localhost` and `berth.internal` in /etc/hosts. */
  hostsEntries: z.boolean(),
  startAtLogin: z.boolean(),
};

/**
 * The first-run choice: `undecided` until the user answers the consent screen;
 * `install` (the helper was or is to be installed) or `limited` ("Not now").
 * Remembered so the app never asks again on its own.
 */
export const consentDecision = z.enum(['undecided', 'install', 'limited']);
export type ConsentDecision = z.infer<typeof consentDecision>;

export const settingsShape = {
  ...toggleShape,
  consent: consentDecision,
  /**
   * The bundled helper version the user was last asked to update to; the app
   * asks once per new version, not at every start. Null until asked.
   */
  helperUpdateAskedFor: z.string().max(64).nullable(),
};

export const settingsSchema = z.strictObject(settingsShape);
export type Settings = z.infer<typeof settingsSchema>;
export type SettingKey = keyof Settings;
export type ToggleKey = keyof typeof toggleShape;

export const DEFAULT_SETTINGS: Settings = {
  privilegedPortMapping: true,
  cliToolsLocation: 'system',
  hostsEntries: true,
  startAtLogin: false,
  consent: 'undecided',
  helperUpdateAskedFor: null,
};

/** Settings an organization may lock (only the toggles), with the values it locks them to. */
export const lockedSettingsSchema = z.strictObject(toggleShape).partial();
export type LockedSettings = z.infer<typeof lockedSettingsSchema>;
