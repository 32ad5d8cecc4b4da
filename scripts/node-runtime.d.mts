/** Types for scripts/node-runtime.mjs (plain JS: it runs before anything is built). */
export interface TargetSpec {
  package: string;
  format: 'elf' | 'mach-o';
  arch: 'x64' | 'arm64';
}
export declare const TARGETS: Readonly<Record<'linux-x64' | 'linux-arm64' | 'darwin-x64' | 'darwin-arm64', TargetSpec>>;
export interface Pin extends TargetSpec {
  target: string;
  version: string;
  integrity: string;
}
export declare class RuntimeError extends Error {}
export declare function hostTarget(): string;
export declare function readPin(target: string, root?: string): Pin;
export declare function pinnedVersion(root?: string): string;
export declare function checkIntegrity(file: string, integrity: string): void;
export declare function cacheTarball(tarball: string, pin: Pin, dir: string): void;
export declare function pinnedNode(
  target: string,
  options?: { root?: string; cacheDir?: string; log?: (line: string) => void },
): Pin & { path: string; source: string };
