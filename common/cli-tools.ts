/**
 * The CLI tools Berth bundles: the only names the helper will link in the
 * system bin directory. Targets are computed from the app location recorded
 * at install (root-owned config), never taken from a request.
 */
export const CLI_TOOLS = ['berth'] as const;
export type CliTool = (typeof CLI_TOOLS)[number];

/** The CLI tools location "System": where the helper links the tools (its config's default linkDir). */
export const SYSTEM_BIN_DIR = '/usr/local/bin';

/** Where, inside the installed app, each tool lives. */
export function cliToolTarget(appPath: string, tool: CliTool, platform: NodeJS.Platform = process.platform): string {
  const resources = platform === 'darwin' ? `${appPath}/Contents/Resources` : `${appPath}/resources`;
  return `${resources}/bin/${tool}`;
}
