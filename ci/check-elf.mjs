// Checks that a .node file is a 64-bit ELF shared object for the architecture its directory
// claims: s390x → machine S/390 (22), big-endian; x64 → x86-64 (62), little-endian.
// Usage: node ci/check-elf.mjs <file.node> <x64|s390x>
import { readFileSync } from 'node:fs';

const EXPECT = {
  s390x: { machine: 22, data: 2, name: 'S/390, big-endian' },
  x64: { machine: 62, data: 1, name: 'x86-64, little-endian' },
};

export function elfInfo(bytes) {
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new Error('not an ELF file');
  const cls = bytes[4]; // 2 = 64-bit
  const data = bytes[5]; // 1 = little, 2 = big
  const le = data === 1;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { cls, data, type: v.getUint16(16, le), machine: v.getUint16(18, le) };
}

export function checkElf(file, arch) {
  const want = EXPECT[arch];
  if (!want) throw new Error(`unknown arch ${arch}`);
  const info = elfInfo(readFileSync(file));
  const ok = info.cls === 2 && info.data === want.data && info.machine === want.machine && info.type === 3;
  if (!ok) throw new Error(`${file}: ELF class ${info.cls}, data ${info.data}, type ${info.type}, machine ${info.machine}; expected 64-bit ${want.name} shared object`);
  return `${file}: ELF64 shared object, ${want.name}`;
}

if (process.argv[1] && process.argv[1].endsWith('check-elf.mjs')) {
  const [file, arch] = process.argv.slice(2);
  try {
    console.log(checkElf(file, arch));
  } catch (err) {
    console.error(String(err.message ?? err));
    process.exit(1);
  }
}
