/** Service definitions for the installed helper: launchd on macOS, systemd on Linux. Pure: no I/O. */
export { launchdPlist, escapeXml, renderPlist, type PlistDict, type PlistValue } from './launchd';
export { systemdServiceUnit, systemdSocketUnit, quoteExecArgument, HELPER_CAPABILITIES, WRITABLE_PATHS } from './systemd';
export { SERVICE_FILES, LAUNCHD_LOG_PATH } from './paths';
export { validateServiceSpec, serviceSpecSchema, LABEL_PATTERN, type ServiceSpec } from './spec';
