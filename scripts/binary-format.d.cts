/** Types for scripts/binary-format.cjs. */
export interface BinaryKind {
  format: 'elf' | 'mach-o' | 'unknown';
  archs: string[];
}
export declare function binaryArchitectures(file: string): BinaryKind;
export declare function describeBinary(found: BinaryKind): string;
