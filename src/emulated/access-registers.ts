// Access-register translation (docs/memop-semantics.md §8.4): in AR mode the access register's ALET selects an
// address space through the access-list designation, the access-list entry and the ASN
// second table entry. All tables are read with real addresses (prefixed), big-endian.
import { PAGE_SIZE, PGM } from '../abi/constants.js';
import { realToAbsolute } from './prefixing.js';
import { hex } from './faults.js';
import type { AbsoluteStorage } from './storage.js';
import type { StorageKeys } from './storage-keys.js';
import { pageNumber } from './frame-numbers.js';

export interface ArTranslation {
  asceHi: number;
  asceLo: number;
  detail: string;
}

export interface ArContext {
  storage: AbsoluteStorage;
  prefix: number;
  /** CR2, CR5, CR7, CR8 low words and CR1/CR7 as halves. */
  cr: readonly bigint[];
  acrs: readonly number[];
  /**
   * What a table read outside guest memory returns: PGM_ADDRESSING, or -EFAULT on kernels whose
   * read_guest_real still went through kvm_read_guest (see profiles.ts).
   */
  outsideMemory: number;
  /**
   * The keys the table fetches mark R in (the kernel reads each through the host mapping), or
   * null for a translation on storage alone.
   */
  fetchesMarkReferenceIn: StorageKeys | null;
}

const words = new Uint32Array(2);

function lowWord(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/** The absolute address of a table fetch at real address `real`, recorded as a host read. */
function fetchAt(c: ArContext, real: number): number {
  const abs = realToAbsolute(real, c.prefix);
  c.fetchesMarkReferenceIn?.recordPage(pageNumber(abs), false);
  return abs;
}

function readRealU32(c: ArContext, real: number): number {
  return c.storage.readU32(fetchAt(c, real));
}

function fail(out: ArTranslation, code: number, detail: string): number {
  out.detail = detail;
  return code;
}

function setAsce(out: ArTranslation, value: bigint): number {
  out.asceHi = Number(value >> 32n);
  out.asceLo = Number(value & 0xffffffffn);
  return 0;
}


/** Returns 0 with the ASCE of access register `ar`'s space in `out`, a program code, or -errno. */
export function translateAccessRegister(c: ArContext, ar: number, isStore: boolean, out: ArTranslation): number {
  const alet = c.acrs[ar]! >>> 0;
  if (ar === 0 || alet === 0) return setAsce(out, c.cr[1]!);
  if (alet === 1) return setAsce(out, c.cr[7]!);
  if ((alet & 0xfe000000) !== 0) return fail(out, PGM.ALET_SPECIFICATION, `ALET ${hex(alet)} in AR${ar} has reserved bits set`);
  const privateList = (alet & 0x01000000) !== 0;
  const alesn = (alet >>> 16) & 0xff;
  const alen = alet & 0xffff;
  const aldOrigin = lowWord(privateList ? c.cr[5]! : c.cr[2]!) & 0x7fffffc0;
  if (!inMemory(c, aldOrigin + 16, 4)) return fail(out, c.outsideMemory, `access-list designation at real ${hex(aldOrigin + 16)} is outside guest memory`);
  const ald = readRealU32(c, aldOrigin + 16);
  const alo = (ald >>> 7) & 0xffffff;
  const all = ald & 0x7f;
  // The kernel divides in C integers: ALEN 8..15 pass a list of length 1 (alen / 8 == 1).
  if (Math.trunc(alen / 8) > all) return fail(out, PGM.ALEN_TRANSLATION, `ALEN ${alen} is beyond the access-list length ${all}`);
  if (0x7fffffff - alo * 128 < alen * 16) return fail(out, PGM.ADDRESSING, 'the access-list entry address exceeds 2^31');
  const aleReal = alo * 128 + alen * 16;
  if (!inMemory(c, aleReal, 16)) return fail(out, c.outsideMemory, `access-list entry at real ${hex(aleReal)} is outside guest memory`);
  const ale0 = readRealU32(c, aleReal);
  const ale2 = readRealU32(c, aleReal + 8);
  const ale3 = readRealU32(c, aleReal + 12);
  if ((ale0 & 0x80000000) !== 0) return fail(out, PGM.ALEN_TRANSLATION, `access-list entry at real ${hex(aleReal)} is invalid`);
  if (((ale0 >>> 16) & 0xff) !== alesn) return fail(out, PGM.ALE_SEQUENCE, `ALE sequence number ${(ale0 >>> 16) & 0xff} differs from the ALET's ${alesn}`);
  const asteReal = ((ale2 >>> 6) & 0x1ffffff) * 64;
  if (!inMemory(c, asteReal, 24)) return fail(out, c.outsideMemory, `ASN-second-table entry at real ${hex(asteReal)} is outside guest memory`);
  const aste0 = readRealU32(c, asteReal);
  const aste1 = readRealU32(c, asteReal + 4);
  if ((aste0 & 0x80000000) !== 0) return fail(out, PGM.ASTE_VALIDITY, `ASN-second-table entry at real ${hex(asteReal)} is invalid`);
  if (readRealU32(c, asteReal + 20) !== ale3) return fail(out, PGM.ASTE_SEQUENCE, 'ASTE sequence number differs from the ALE\'s');
  if ((ale0 & 0x01000000) !== 0) {
    const eax = Number((c.cr[8]! >> 16n) & 0xffffn);
    if ((ale0 & 0xffff) !== eax) {
      const atl = (aste1 >>> 4) & 0xfff;
      if (Math.trunc(eax / 16) > atl) return fail(out, PGM.EXTENDED_AUTHORITY, `EAX ${eax} is beyond the authority-table length ${atl}`);
      const ato = (aste0 >>> 2) & 0x1fffffff;
      const byteReal = authorityByteAddress(ato, eax);
      if (!inMemory(c, byteReal, 1)) return fail(out, c.outsideMemory, `authority-table byte at real ${hex(byteReal)} is outside guest memory`);
      const authority = c.storage.readU8(fetchAt(c, byteReal));
      if ((authority & (0x40 >> ((eax & 3) * 2))) === 0) return fail(out, PGM.EXTENDED_AUTHORITY, `EAX ${eax} has no secondary authority for this private ALE`);
    }
  }
  if ((ale0 & 0x02000000) !== 0 && isStore) return fail(out, PGM.PROTECTION, `store through AR${ar}: the access-list entry is fetch-only`);
  c.storage.readU64Parts(fetchAt(c, asteReal + 8), words);
  out.asceHi = words[0]!;
  out.asceLo = words[1]!;
  return 0;
}

/**
 * The real address of EAX's authority-table byte as the kernel computes it: ATO (a 29-bit
 * field) times 4 plus EAX / 4, in a C int. Above 2^31 - 1 that sum wraps (the kernel builds
 * with -fno-strict-overflow) to a negative int, which widens to an unsigned long near 2^64:
 * outside any memory. Below it, the plain sum.
 */
export function authorityByteAddress(ato: number, eax: number): number {
  const sum = ato * 4 + Math.trunc(eax / 4);
  return sum > 0x7fffffff ? 2 ** 64 - 2 ** 32 + sum : sum;
}

function inMemory(c: ArContext, real: number, length: number): boolean {
  return c.storage.contains(realToAbsolute(real, c.prefix)) && c.storage.contains(realToAbsolute(real + length - 1, c.prefix));
}
