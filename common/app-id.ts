/**
 * The app's bundle identifier (macOS CFBundleIdentifier), defined once here.
 * electron-builder.yml's `appId` must be the same string (common/app-id.test.ts
 * checks it); the helper's LaunchDaemon names it in AssociatedBundleIdentifiers
 * so System Settings > Login Items shows the daemon as Berth's.
 */
export const APP_BUNDLE_ID = 'dev.berth.app';
