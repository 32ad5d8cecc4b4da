import { dirname } from 'node:path';
import { appPathOfCliTool, appResourcesDir } from '../../common/cli-tools';
import { isSingleExecutable } from '../../native';

/**
 * The packaged app's resources directory when this process runs from one:
 * Electron says so (process.resourcesPath); the packaged CLI is a single
 * executable at <resources>/bin/berth and knows it from process.execPath (the
 * real file, whichever symlink in /usr/local/bin ran it). Undefined from a
 * checkout or a build, where everything sits under dist/.
 */
export function packagedResourcesDir(): string | undefined {
  const electron = process as NodeJS.Process & { resourcesPath?: string; defaultApp?: boolean };
  if (electron.resourcesPath !== undefined) {
    // Electron running an unpacked app folder (`electron APPDIR`, as the
    // end-to-end suite runs Berth; only Electron's own default app sets
    // defaultApp, and a packaged app has none): resourcesPath is then
    // Electron's (node_modules/electron/dist/resources) and holds no helper,
    // so the folder carries its resources where an installed app has them
    // (scripts/app-dir.ts). The bundles sit at APPDIR/dist/<name>/.
    if (electron.defaultApp === true) return appResourcesDir(bundleAppDir());
    return electron.resourcesPath;
  }
  const appPath = packagedCliApp();
  return appPath === undefined ? undefined : appResourcesDir(appPath);
}

/** The folder above dist/ of the running bundle (dist/main/electron.js, dist/cli/berth.js). */
function bundleAppDir(): string {
  return dirname(dirname(dirname(__filename)));
}

/** The app around the packaged CLI (a single executable in its resources/bin); undefined for any other process. */
function packagedCliApp(): string | undefined {
  return isSingleExecutable() ? appPathOfCliTool(process.execPath) : undefined;
}

/**
 * The app the running CLI belongs to (what `berth helper install` records and
 * `berth app` serves): the app around the packaged CLI, else the directory
 * above dist/ of this build.
 */
export function cliAppPath(): string {
  if (isSingleExecutable()) {
    const appPath = packagedCliApp();
    // A copy of the CLI moved out of the app cannot know which app it belongs to.
    if (appPath === undefined) throw new Error(`berth runs from ${process.execPath}, outside an app's resources/bin; run the one inside Berth's app (or pass --app)`);
    return appPath;
  }
  return bundleAppDir();
}
