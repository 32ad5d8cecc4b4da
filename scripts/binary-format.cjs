'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file, required by the afterPack hook (electron-builder loads hooks with require()). */
// The format and CPU architectures of an executable or shared library, read
// from its header: the packaging hook checks the single executable and its
// addon against the package's platform, and the SEA build checks the Node it
// was handed and the addon against the target, so a binary for the wrong
// machine stops the build instead of failing on a user's.
const fs = require('node:fs');

/** ELF e_machine values. */
const ELF_MACHINES = { 0x03: 'ia32', 0x28: 'armv7l', 0x3e: 'x64', 0xb7: 'arm64' };
/** Mach-O cputype values. */
const MACHO_CPUS = { 0x01000007: 'x64', 0x0100000c: 'arm64' };

/** 'elf', 'mach-o' or 'unknown', and the architectures of a binary, from its first 4 KiB. */
function binaryArchitectures(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(4096);
    const length = fs.readSync(fd, header, 0, header.length, 0);
    if (length >= 20 && header.readUInt32BE(0) === 0x7f454c46) {
      const little = header[5] === 1;
      const machine = little ? header.readUInt16LE(18) : header.readUInt16BE(18);
      return { format: 'elf', archs: [ELF_MACHINES[machine] ?? `machine 0x${machine.toString(16)}`] };
    }
    if (length >= 8 && header.readUInt32LE(0) === 0xfeedfacf) {
      const cpu = header.readUInt32LE(4);
      return { format: 'mach-o', archs: [MACHO_CPUS[cpu] ?? `cpu 0x${cpu.toString(16)}`] };
    }
    if (length >= 8 && header.readUInt32BE(0) === 0xcafebabe) {
      // A universal (fat) Mach-O: one 20-byte record per slice.
      const count = Math.min(header.readUInt32BE(4), Math.floor((length - 8) / 20));
      const archs = [];
      for (let i = 0; i < count; i++) {
        const cpu = header.readUInt32BE(8 + i * 20);
        archs.push(MACHO_CPUS[cpu] ?? `cpu 0x${cpu.toString(16)}`);
      }
      return { format: 'mach-o', archs };
    }
    return { format: 'unknown', archs: [] };
  } finally {
    fs.closeSync(fd);
  }
}

/** How a binary is described in an error: "elf x64", "mach-o arm64+x64" or "not an executable". */
function describeBinary(found) {
  return found.format === 'unknown' ? 'not an executable' : `${found.format} ${found.archs.join('+')}`;
}

module.exports = { binaryArchitectures, describeBinary };
