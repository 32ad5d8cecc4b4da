/** Types for scripts/tray-icons.mjs (plain JS: scripts/build.mjs runs it before anything is built). */
type TrayIconName = 'running' | 'attention' | 'user-mode' | 'error' | 'limited';
export declare const TRAY_COLOURS: Readonly<Record<TrayIconName, readonly [number, number, number]>>;
export declare const TRAY_SIZES: Readonly<Record<'' | '@2x', number>>;
export declare const TRAY_SHAPES: Readonly<Record<TrayIconName, (x: number, y: number) => boolean>>;
export declare function writeTrayIcons(dir: string): void;
