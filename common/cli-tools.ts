/**
 * The CLI tools Berth bundles: the only names the helper will link in the
 * system bin directory. Targets are computed from the app location recorded
 * at install (root-owned config), never taken from a request.
 */
export const CLI_TOOLS = ['berth'] as const;
export type CliTool = (typeof CLI_TOOLS)[number];

/** The CLI tools location "System": where the helper links the tools (its config's default linkDir). */
export const SYSTEM_BIN_DIR = '/usr/local/bin';

/** The packaged app's resources directory (where electron-builder puts extraResources). */
export function appResourcesDir(appPath: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? `${appPath}/Contents/Resources` : `${appPath}/resources`;
}

/** Where, inside the installed app, each tool lives. */
export function cliToolTarget(appPath: string, tool: CliTool, platform: NodeJS.Platform = process.platform): string {
  return `${appResourcesDir(appPath, platform)}/bin/${tool}`;
}

/**
 * The app a packaged tool belongs to, from the tool's own path (the inverse of
 * cliToolTarget); undefined when the path is not inside an app's resources/bin.
 */
export function appPathOfCliTool(toolPath: string, platform: NodeJS.Platform = process.platform): string | undefined {
  const suffix = platform === 'darwin' ? '/Contents/Resources/bin/' : '/resources/bin/';
  const at = toolPath.lastIndexOf(suffix);
  if (at <= 0 || toolPath.slice(at + suffix.length).includes('/')) return undefined;
  return toolPath.slice(0, at);
}
