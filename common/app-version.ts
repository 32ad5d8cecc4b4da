import pkg from '../package.json';

/** The version of this build of Berth: the app, the CLI and the bundled helper share it. */
export const BERTH_VERSION: string = pkg.version;
