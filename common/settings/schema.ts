import { z } from 'zod';

/**
 * The user's settings: one schema for the UI, the CLI, the settings file and
 * the organization policy's locked values.
 */
export const settingsShape = {
  /** Ask the helper for ports the OS will not let the user bind. */
  privilegedPortMapping: z.boolean(),
  /** Where the CLI tools are linked: System (/usr/local/bin, via the helper) or User (~/.berth/bin). */
  cliToolsLocation: z.enum(['system', 'user']),
  /** Keep `localhost` and `berth.internal` in /etc/hosts. */
  hostsEntries: z.boolean(),
  startAtLogin: z.boolean(),
};

export const settingsSchema = z.strictObject(settingsShape);
export type Settings = z.infer<typeof settingsSchema>;
export type SettingKey = keyof Settings;

/** Settings an organization may lock, with the values it locks them to. */
export const lockedSettingsSchema = settingsSchema.partial();
export type LockedSettings = z.infer<typeof lockedSettingsSchema>;
