// Dynamic address translation (docs/memop-semantics.md §8.6): the walk from an ASCE through region-first,
// -second, -third, segment and page tables, with table-length, invalid-bit, table-type and
// translation-specification checks, DAT protection, and EDAT-1 (1 MiB) / EDAT-2 (2 GiB)
// frames. Table entries are big-endian u64s in absolute storage, read as two u32 halves.
import { PAGE_SIZE, PGM } from '../abi/constants.js';
import { asNumber, type Address64 } from './address-space.js';
import { realToAbsolute } from './prefixing.js';
import { hex } from './faults.js';
import type { AbsoluteStorage } from './storage.js';
import { pageNumber } from './frame-numbers.js';

/** ASCE bits (low word). */
const ASCE_PRIVATE = 0x100;
const ASCE_REAL = 0x20;

/** Region-table entry bits (low word). */
const RTE_INVALID = 0x20;
const RTE_PROTECT = 0x200;
const RTTE_FORMAT_CONTROL = 0x400;
const COMMON = 0x10;
/** Segment-table entry bits (low word). */
const STE_INVALID = 0x20;
const STE_PROTECT = 0x200;
const STE_FORMAT_CONTROL = 0x400;
/** Page-table entry bits (low word). */
const PTE_PROTECT = 0x200;
const PTE_INVALID = 0x400;
const PTE_ZERO = 0x800;

export interface DatFacilities {
  /** CR0 EDAT bit and facility 8. */
  edat1: boolean;
  /** edat1 and facility 78. */
  edat2: boolean;
}

/** The result of a walk: the absolute address, or which table refused it and why. */
export interface Translation {
  abs: number;
  /** DAT protection was the reason for a PGM_PROTECTION. */
  datProtected: boolean;
  /** The walk found a protection bit for the page (whatever the access mode). */
  pageProtected: boolean;
  /** Words describing a failure (table level and entry address), set only on failure. */
  detail: string;
  /**
   * The page numbers of the table entries the walk read, in order (at most one per level),
   * and how many: the kernel reads each through the host mapping, which sets R in the
   * tables' storage keys (logical-memop.ts marks them). A translation buffer hit leaves the
   * pages in the buffer's entry (`tableSlot`) and sets only the count.
   */
  readonly tablePages: Float64Array;
  tableReads: number;
  /** The translation buffer's entry that holds this walk, or -1. */
  tableSlot: number;
}

/** A Translation to fill (one per vcpu: the walk allocates nothing). */
export function emptyTranslation(): Translation {
  return { abs: 0, datProtected: false, pageProtected: false, detail: '', tablePages: new Float64Array(MAX_TABLE_READS), tableReads: 0, tableSlot: -1 };
}

export function asceIsPrivate(asceLo: number): boolean {
  return (asceLo & ASCE_PRIVATE) !== 0;
}

/** Region-first, -second, -third, segment and page table: one entry each. */
export const MAX_TABLE_READS = 5;

const LEVEL_NAMES = ['segment-table', 'region-third-table', 'region-second-table', 'region-first-table'];
const entry = new Uint32Array(2);


/**
 * Translates virtual address `va` (effective) through `asce` by walking the tables: returns 0
 * with `out.abs` set, or a program-interruption code with `out.detail` set. `out.abs` is
 * also set (to the frame's address) when the walk reached a frame but the access is refused
 * there (DAT protection, a frame outside memory): what a translation buffer may keep. Every
 * table page read is marked in `storage` (watchForTranslation), so that a store into it
 * invalidates what was cached from it.
 */
export function translate(
  storage: AbsoluteStorage,
  asceHi: number,
  asceLo: number,
  va: Address64,
  isStore: boolean,
  prefix: number,
  facilities: DatFacilities,
  out: Translation,
): number {
  out.datProtected = false;
  out.abs = -1;
  out.tableReads = 0;
  out.tableSlot = -1;
  if ((asceLo & ASCE_REAL) !== 0) {
    out.abs = realToAbsolute(asNumber(va.hi, va.lo), prefix);
    return finishTranslation(storage, isStore, false, out);
  }
  return walk(storage, asceHi, asceLo, va, isStore, prefix, facilities, out);
}

/** True when `asce` designates a real space: translation is prefixing only, no table walk. */
export function asceIsReal(asceLo: number): boolean {
  return (asceLo & ASCE_REAL) !== 0;
}

/** The table walk itself. */
function walk(
  storage: AbsoluteStorage,
  asceHi: number,
  asceLo: number,
  va: Address64,
  isStore: boolean,
  prefix: number,
  facilities: DatFacilities,
  out: Translation,
): number {
  const { hi, lo } = va;
  const rfx = (hi >>> 21) & 0x7ff;
  const rsx = (hi >>> 10) & 0x7ff;
  const rtx = (((hi & 0x3ff) << 1) | (lo >>> 31)) & 0x7ff;
  const sx = (lo >>> 20) & 0x7ff;
  const px = (lo >>> 12) & 0xff;
  const rfx01 = hi >>> 30;
  const rsx01 = (hi >>> 19) & 3;
  const rtx01 = (hi >>> 8) & 3;
  const sx01 = (lo >>> 29) & 3;
  const dt = (asceLo >>> 2) & 3;
  const tl = asceLo & 3;
  const originLo = (asceLo & 0xfffff000) >>> 0;
  let ptr: number;
  switch (dt) {
    case 3:
      if (rfx01 > tl) return fail(out, PGM.REGION_FIRST_TRANS, `region-first index of the address exceeds the ASCE table length ${tl}`);
      ptr = entryAddress(asceHi, originLo, rfx);
      break;
    case 2:
      if (rfx !== 0) return fail(out, PGM.ASCE_TYPE, 'the address needs a region-first table but the ASCE designates a region-second table');
      if (rsx01 > tl) return fail(out, PGM.REGION_SECOND_TRANS, `region-second index exceeds the ASCE table length ${tl}`);
      ptr = entryAddress(asceHi, originLo, rsx);
      break;
    case 1:
      if (rfx !== 0 || rsx !== 0) return fail(out, PGM.ASCE_TYPE, 'the address needs a higher region table than the ASCE designates (region-third)');
      if (rtx01 > tl) return fail(out, PGM.REGION_THIRD_TRANS, `region-third index exceeds the ASCE table length ${tl}`);
      ptr = entryAddress(asceHi, originLo, rtx);
      break;
    default:
      if (rfx !== 0 || rsx !== 0 || rtx !== 0) return fail(out, PGM.ASCE_TYPE, 'the address is above 2 GiB but the ASCE designates a segment table');
      if (sx01 > tl) return fail(out, PGM.SEGMENT_TRANSLATION, `segment index exceeds the ASCE table length ${tl}`);
      ptr = entryAddress(asceHi, originLo, sx);
  }
  let dp = false;
  const { edat1, edat2 } = facilities;
  // Each level falls through to the next; `level` counts down from the ASCE's type.
  for (let level = dt; level >= 0; level--) {
    if (!storage.contains(ptr)) return fail(out, PGM.ADDRESSING, `${LEVEL_NAMES[level]} entry at absolute ${hex(ptr)} is outside guest memory`);
    readTableEntry(storage, ptr, out);
    const eHi = entry[0]!;
    const eLo = entry[1]!;
    if (level === 0) {
      if (eLo & STE_INVALID) return fail(out, PGM.SEGMENT_TRANSLATION, `${entryAt(level, ptr)} is invalid`);
      if (((eLo >>> 2) & 3) !== 0) return fail(out, PGM.TRANSLATION_SPEC, `${entryAt(level, ptr)} has table type ${(eLo >>> 2) & 3}, expected 0`);
      if ((eLo & COMMON) !== 0 && asceIsPrivate(asceLo)) return fail(out, PGM.TRANSLATION_SPEC, `${entryAt(level, ptr)} is common-segment in a private space`);
      if ((eLo & STE_FORMAT_CONTROL) !== 0 && edat1) {
        dp ||= (eLo & STE_PROTECT) !== 0;
        out.abs = asNumber(eHi, ((eLo & 0xfff00000) | (lo & 0x000fffff)) >>> 0);
        return finishTranslation(storage, isStore, dp, out);
      }
      dp ||= (eLo & STE_PROTECT) !== 0;
      ptr = entryAddress(eHi, (eLo & 0xfffff800) >>> 0, px);
      if (!storage.contains(ptr)) return fail(out, PGM.ADDRESSING, `page-table entry at absolute ${hex(ptr)} is outside guest memory`);
      readTableEntry(storage, ptr, out);
      const pHi = entry[0]!;
      const pLo = entry[1]!;
      if (pLo & PTE_INVALID) return fail(out, PGM.PAGE_TRANSLATION, `page-table entry at absolute ${hex(ptr)} is invalid`);
      if (pLo & PTE_ZERO) return fail(out, PGM.TRANSLATION_SPEC, `page-table entry at absolute ${hex(ptr)} has bit 52 set`);
      dp ||= (pLo & PTE_PROTECT) !== 0;
      out.abs = realToAbsolute(asNumber(pHi, ((pLo & 0xfffff000) | (lo & 0xfff)) >>> 0), prefix);
      return finishTranslation(storage, isStore, dp, out);
    }
    const invalidCode = level === 3 ? PGM.REGION_FIRST_TRANS : level === 2 ? PGM.REGION_SECOND_TRANS : PGM.REGION_THIRD_TRANS;
    if (eLo & RTE_INVALID) return fail(out, invalidCode, `${entryAt(level, ptr)} is invalid`);
    if (((eLo >>> 2) & 3) !== level) return fail(out, PGM.TRANSLATION_SPEC, `${entryAt(level, ptr)} has table type ${(eLo >>> 2) & 3}, expected ${level}`);
    if (level === 1) {
      if ((eLo & COMMON) !== 0 && asceIsPrivate(asceLo) && edat2) return fail(out, PGM.TRANSLATION_SPEC, `${entryAt(level, ptr)} is common-region in a private space`);
      if ((eLo & RTTE_FORMAT_CONTROL) !== 0 && edat2) {
        dp ||= (eLo & RTE_PROTECT) !== 0;
        out.abs = asNumber(eHi, ((eLo & 0x80000000) | (lo & 0x7fffffff)) >>> 0);
        return finishTranslation(storage, isStore, dp, out);
      }
    }
    const tf = (eLo >>> 6) & 3;
    const etl = eLo & 3;
    const nextIndex01 = level === 3 ? rsx01 : level === 2 ? rtx01 : sx01;
    const nextCode = level === 3 ? PGM.REGION_SECOND_TRANS : level === 2 ? PGM.REGION_THIRD_TRANS : PGM.SEGMENT_TRANSLATION;
    if (nextIndex01 < tf || nextIndex01 > etl) return fail(out, nextCode, `${entryAt(level, ptr)}: next index outside its table offset ${tf} and length ${etl}`);
    if (edat1) dp ||= (eLo & RTE_PROTECT) !== 0;
    const nextIndex = level === 3 ? rsx : level === 2 ? rtx : sx;
    ptr = entryAddress(eHi, (eLo & 0xfffff000) >>> 0, nextIndex);
  }
  return fail(out, PGM.TRANSLATION_SPEC, 'unreachable');
}

/** Reads the entry at absolute `ptr` (in memory) into `entry`, noting its page as read. */
function readTableEntry(storage: AbsoluteStorage, ptr: number, out: Translation): void {
  const pfn = pageNumber(ptr);
  storage.watchForTranslation(pfn);
  out.tablePages[out.tableReads++] = pfn;
  storage.readU64Parts(ptr, entry);
}

/**
 * The address of entry `index` of the table at origin (hi, lo): origin + index * 8 in unsigned
 * 64-bit arithmetic, as the kernel computes it. A 4 KiB-aligned origin in the last page below
 * 2^64 plus an index of 512 or more wraps to a low address, which the kernel then reads.
 */
export function entryAddress(originHi: number, originLo: number, index: number): number {
  const lo = originLo + index * 8;
  return lo < 0x1_0000_0000 ? asNumber(originHi, lo) : asNumber((originHi + 1) >>> 0, lo - 0x1_0000_0000);
}

/** Names a table entry in a failure sentence (built only when translation fails). */
function entryAt(level: number, ptr: number): string {
  return `${LEVEL_NAMES[level]} entry at absolute ${hex(ptr)}`;
}

function fail(out: Translation, code: number, detail: string): number {
  out.detail = detail;
  return code;
}

/** The checks after a frame was found: DAT protection for stores, the frame inside memory. */
export function finishTranslation(storage: AbsoluteStorage, isStore: boolean, datProtected: boolean, out: Translation): number {
  out.pageProtected = datProtected;
  if (isStore && datProtected) {
    out.datProtected = true;
    out.detail = 'the page is DAT-protected (protection bit in a table entry)';
    return PGM.PROTECTION;
  }
  if (!storage.contains(out.abs)) return fail(out, PGM.ADDRESSING, `absolute ${out.abs === Infinity ? 'address above 2^53' : hex(out.abs)} is outside guest memory`);
  return 0;
}
