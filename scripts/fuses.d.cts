import type { FuseV1Config, FuseV1Options } from '@electron/fuses';

/** Every fuse @electron/fuses 1.8 knows, by its FuseV1Options name. */
export declare const FUSES: Readonly<Record<keyof typeof FuseV1Options, boolean>>;

/** The @electron/fuses config for one packaged app (platform: 'darwin' | 'linux' | ..., arch: 'x64' | 'arm64' | ...). */
export declare function fuseConfig(platform: string, arch: string): FuseV1Config;
