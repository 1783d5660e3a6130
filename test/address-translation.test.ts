// Unit tests of the translation building blocks against values worked out by hand from the
// architecture (docs/memop-semantics.md §8.1, §8.2, §8.6, §8.6.1), independent of the memop path.
import { describe, expect, it } from 'vitest';
import { PGM } from '../src/abi/constants.js';
import { addressingMode, advance, fromU64, toEffective, type Address64 } from '../src/emulated/address-space.js';
import { emptyTranslation, translate, type Translation } from '../src/emulated/dat.js';
import { realToAbsolute } from '../src/emulated/prefixing.js';
import { AbsoluteStorage } from '../src/emulated/storage.js';

const addr = (v: bigint): Address64 => fromU64(v, { hi: 0, lo: 0 });
const big = (a: Address64): bigint => (BigInt(a.hi) << 32n) | BigInt(a.lo);

describe('address space', () => {
  it('derives the addressing mode from EA (bit 31) and BA (bit 32)', () => {
    expect(addressingMode(0, 0)).toBe(24);
    expect(addressingMode(0, 0x80000000)).toBe(31);
    expect(addressingMode(1, 0x80000000)).toBe(64);
    expect(addressingMode(1, 0)).toBe(24); // the invalid (1, 0) combination
  });

  it('masks to 24 and 31 bits and leaves 64-bit addresses alone', () => {
    const a = addr(0xffff_ffff_ffff_ffffn);
    toEffective(a, 31);
    expect(big(a)).toBe(0x7fff_ffffn);
    const b = addr(0x1_8123_4567n);
    toEffective(b, 24);
    expect(big(b)).toBe(0x23_4567n);
    const c = addr(0xdead_beef_0000_1000n);
    toEffective(c, 64);
    expect(big(c)).toBe(0xdead_beef_0000_1000n);
  });

  it('carries into the high word and wraps at 2^64', () => {
    const a = addr(0xffff_f000n);
    advance(a, 0x1000);
    expect(big(a)).toBe(0x1_0000_0000n);
    const b = addr(0xffff_ffff_ffff_f000n);
    advance(b, 0x1000);
    expect(big(b)).toBe(0n);
  });

  it('splits addresses above 2^53 exactly', () => {
    expect(big(addr(0xfedc_ba98_7654_3210n))).toBe(0xfedc_ba98_7654_3210n);
    expect(big(addr(0x1f_ffff_ffff_ffffn))).toBe(0x1f_ffff_ffff_ffffn);
  });
});

describe('prefixing', () => {
  it('swaps the two 8 KiB areas and leaves everything else', () => {
    const p = 0x3_0000;
    expect(realToAbsolute(0x0, p)).toBe(0x3_0000);
    expect(realToAbsolute(0x1fff, p)).toBe(0x3_1fff);
    expect(realToAbsolute(0x3_0000, p)).toBe(0x0);
    expect(realToAbsolute(0x3_1fff, p)).toBe(0x1fff);
    expect(realToAbsolute(0x2000, p)).toBe(0x2000);
    expect(realToAbsolute(0x3_2000, p)).toBe(0x3_2000);
    expect(realToAbsolute(0x1234, 0)).toBe(0x1234);
  });
});

describe('DAT walk', () => {
  const MIB = 1 << 20;
  function u64(s: AbsoluteStorage, at: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, false);
    s.writeRange(at, b, 0, 8);
  }
  /** A segment-table ASCE (DT 0, TL 3) at 0x10000 → page table at 0x20000 for va 0x123000. */
  function segmentSpace(): AbsoluteStorage {
    const s = new AbsoluteStorage(4 * MIB);
    for (let i = 0; i < 2048; i++) u64(s, 0x10000 + i * 8, 0x20n); // invalid segment entries
    for (let i = 0; i < 256; i++) u64(s, 0x20000 + i * 8, 0x400n); // invalid page entries
    u64(s, 0x10000 + 1 * 8, 0x20000n); // SX 1 (va 0x100000..0x1fffff) → page table 0x20000
    u64(s, 0x20000 + 0x23 * 8, 0x5000n); // PX 0x23 → frame 0x5000
    return s;
  }
  const none = { edat1: false, edat2: false };
  const out = (): Translation => emptyTranslation();

  it('translates through a segment and a page table, then prefixes the real frame', () => {
    const s = segmentSpace();
    const o = out();
    expect(translate(s, 0, 0x10000 | 3, addr(0x123abcn), false, 0, none, o)).toBe(0);
    expect(o.abs).toBe(0x5abc);
    u64(s, 0x20000 + 0x23 * 8, 0x1000n); // a real frame inside the low prefix area
    expect(translate(s, 0, 0x10000 | 3, addr(0x123abcn), false, 0x8000, none, o)).toBe(0);
    expect(o.abs).toBe(0x9abc);
  });

  it('reports the level that refused', () => {
    const s = segmentSpace();
    const o = out();
    expect(translate(s, 0, 0x10000 | 3, addr(0x124000n), false, 0, none, o)).toBe(PGM.PAGE_TRANSLATION);
    expect(translate(s, 0, 0x10000 | 3, addr(0x200000n), false, 0, none, o)).toBe(PGM.SEGMENT_TRANSLATION);
    expect(translate(s, 0, 0x10000 | 3, addr(0x8000_0000n), false, 0, none, o)).toBe(PGM.ASCE_TYPE);
    // TL 0 covers SX 0..511 only: SX01 of 0x2000_0000 is 1.
    expect(translate(s, 0, 0x10000 | 0, addr(0x2000_0000n), false, 0, none, o)).toBe(PGM.SEGMENT_TRANSLATION);
    u64(s, 0x20000 + 0x23 * 8, 0x5800n); // bit 52 set
    expect(translate(s, 0, 0x10000 | 3, addr(0x123000n), false, 0, none, o)).toBe(PGM.TRANSLATION_SPEC);
  });

  it('honours page and segment protection only for stores, segment protection even without EDAT', () => {
    const s = segmentSpace();
    const o = out();
    u64(s, 0x10000 + 8, 0x20000n | 0x200n);
    expect(translate(s, 0, 0x10000 | 3, addr(0x123000n), false, 0, none, o)).toBe(0);
    expect(translate(s, 0, 0x10000 | 3, addr(0x123000n), true, 0, none, o)).toBe(PGM.PROTECTION);
    expect(o.datProtected).toBe(true);
  });

  it('uses a 1 MiB frame only with EDAT-1, and never prefixes it', () => {
    const s = segmentSpace();
    const o = out();
    u64(s, 0x10000 + 8, 0x300000n | 0x400n); // FC=1 frame 0x300000
    expect(translate(s, 0, 0x10000 | 3, addr(0x1000f0n), false, 0x300000, { edat1: true, edat2: false }, o)).toBe(0);
    expect(o.abs).toBe(0x3000f0);
    // Without EDAT the same entry is a page-table origin 0x300000 (zero entries → frame 0).
    expect(translate(s, 0, 0x10000 | 3, addr(0x1000f0n), false, 0, none, o)).toBe(0);
    expect(o.abs).toBe(0xf0);
  });
});
