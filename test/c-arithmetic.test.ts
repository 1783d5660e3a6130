// The model computes what the kernel computes in C: integer division that truncates,
// unsigned 64-bit address sums that wrap, int sums that wrap at 2^31 (the kernel builds with
// -fno-strict-overflow). Each table-length and index computation is tested at its boundaries.
import { describe, expect, it } from 'vitest';
import { PGM } from '../src/abi/constants.js';
import { authorityByteAddress, translateAccessRegister, type ArContext, type ArTranslation } from '../src/emulated/access-registers.js';
import { fromU64 } from '../src/emulated/address-space.js';
import { emptyTranslation, entryAddress, translate, type Translation } from '../src/emulated/dat.js';
import { AbsoluteStorage } from '../src/emulated/storage.js';

function word(s: AbsoluteStorage, at: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  s.writeRange(at, b, 0, 4);
}

function u64(s: AbsoluteStorage, at: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, false);
  s.writeRange(at, b, 0, 8);
}

const ALD = 0x4000; // access-list designation (CR2 origin)
const AL = 0x10000; // access list (ALO = AL / 128)
const ASTE = 0x20000;
const AUTHORITY = 0x30000; // authority table (ATO = AUTHORITY / 4)
const ASCE = 0x0000_1234_5678_9000n;

/**
 * An access list of length `all` whose every entry (0..127) is valid, points at one ASTE with
 * ATL `atl` and an authority table that grants secondary authority to every EAX; private
 * entries when `private_` so that EAX is checked.
 */
function arSpace(all: number, atl: number, private_: boolean, memory = 1 << 24): ArContext {
  const s = new AbsoluteStorage(memory);
  word(s, ALD + 16, ((AL / 128) << 7) | all);
  for (let alen = 0; alen < 128; alen++) {
    const at = AL + alen * 16;
    word(s, at, (private_ ? 0x01000000 : 0) | (5 << 16) | 0xffff); // ALESN 5, ALEAX 0xffff
    word(s, at + 8, (ASTE / 64) << 6);
    word(s, at + 12, 0x77);
  }
  word(s, ASTE, ((AUTHORITY / 4) << 2) >>> 0);
  word(s, ASTE + 4, atl << 4);
  u64(s, ASTE + 8, ASCE);
  word(s, ASTE + 20, 0x77);
  for (let i = 0; i < 16384; i += 4) word(s, AUTHORITY + i, 0xffffffff);
  const cr = new Array<bigint>(16).fill(0n);
  cr[2] = BigInt(ALD);
  return { storage: s, prefix: 0, cr, acrs: new Array<number>(16).fill(0), outsideMemory: PGM.ADDRESSING, fetchesMarkReferenceIn: null };
}

function viaAr(c: ArContext, alen: number, eax = 0): number {
  c.acrs[3] = (5 << 16) | alen;
  (c.cr as bigint[])[8] = BigInt(eax) << 16n;
  const out: ArTranslation = { asceHi: 0, asceLo: 0, detail: '' };
  return translateAccessRegister(c, 3, false, out);
}

describe('access-register translation in C integer arithmetic', () => {
  it('ALEN / 8 truncates: a list of length ALL admits ALEN 0 .. 8·ALL + 7', () => {
    for (const all of [0, 1, 2, 15]) {
      const c = arSpace(all, 0, false);
      for (let alen = Math.max(0, 8 * all - 1); alen <= 8 * all + 7; alen++) expect(viaAr(c, alen), `ALL ${all} ALEN ${alen}`).toBe(0);
      expect(viaAr(c, 8 * all + 8), `ALL ${all} ALEN ${8 * all + 8}`).toBe(PGM.ALEN_TRANSLATION);
    }
    // ALEN 1..7 with ALL 0: refused by JavaScript's fractional division before the fix.
    expect(viaAr(arSpace(0, 0, false), 1)).toBe(0);
  });

  it('EAX / 16 truncates: an authority table of length ATL admits EAX 0 .. 16·ATL + 15', () => {
    for (const atl of [0, 1, 7, 0xfff]) {
      const c = arSpace(1, atl, true);
      for (const eax of [16 * atl, 16 * atl + 1, 16 * atl + 15]) if (eax <= 0xffff) expect(viaAr(c, 2, eax), `ATL ${atl} EAX ${eax}`).toBe(0);
      if (16 * atl + 16 <= 0xfffe) expect(viaAr(c, 2, 16 * atl + 16), `ATL ${atl} EAX ${16 * atl + 16}`).toBe(PGM.EXTENDED_AUTHORITY);
    }
  });

  it('the authority-table byte address wraps like a C int past 2^31 - 1', () => {
    expect(authorityByteAddress(0, 0)).toBe(0);
    expect(authorityByteAddress(0x1fff_ffff, 0)).toBe(0x7fff_fffc);
    expect(authorityByteAddress(0x1fff_ffff, 15)).toBe(0x7fff_ffff); // 0x7ffffffc + 3
    expect(authorityByteAddress(0x1fff_ffff, 16)).toBeGreaterThanOrEqual(2 ** 64 - 2 ** 32); // wrapped, sign-extended
    // With 4 GiB of memory the unwrapped address 0x80000000 would be readable.
    const c = arSpace(1, 0xfff, true, 2 ** 32);
    word(c.storage, ASTE, (0x1fff_ffff << 2) >>> 0); // ATO at the top of 31 bits
    c.storage.pageForWrite(0x80000000 / 4096).fill(0xff);
    c.storage.pageForWrite(0x7fffffff >>> 12).fill(0xff);
    expect(viaAr(c, 2, 16)).toBe(PGM.ADDRESSING);
    expect(viaAr(c, 2, 12)).toBe(0); // 0x7ffffffc + 3 = 0x7fffffff: in memory, no wrap
  });
});

describe('DAT entry addresses in unsigned 64-bit arithmetic', () => {
  it('origin + index · 8 carries into the high word and wraps at 2^64', () => {
    expect(entryAddress(0, 0x1000, 0)).toBe(0x1000);
    expect(entryAddress(0, 0xffff_f000, 511)).toBe(0xffff_fff8);
    expect(entryAddress(0, 0xffff_f000, 512)).toBe(0x1_0000_0000);
    expect(entryAddress(0xffff_ffff, 0xffff_f000, 511)).toBe(Infinity); // just below 2^64: outside memory
    expect(entryAddress(0xffff_ffff, 0xffff_f000, 512)).toBe(0);
    expect(entryAddress(0xffff_ffff, 0xffff_f000, 2047)).toBe(2047 * 8 - 4096);
  });

  it('a segment table at the last page below 2^64 reads SX ≥ 512 from low memory, as the kernel does', () => {
    const s = new AbsoluteStorage(1 << 24);
    // SX 512 wraps to absolute 0: a valid segment entry there → page table 0x10000 → frame 0x20000.
    u64(s, 0, 0x10000n);
    for (let i = 0; i < 256; i++) u64(s, 0x10000 + i * 8, 0x400n);
    u64(s, 0x10000, 0x20000n);
    const out: Translation = emptyTranslation();
    const asceLo = (0xffff_f000 | 3) >>> 0; // DT 0 (segment table), TL 3
    const va = fromU64(0x2000_0123n, { hi: 0, lo: 0 }); // SX 512, PX 0
    expect(translate(s, 0xffff_ffff, asceLo, va, false, 0, { edat1: false, edat2: false }, out)).toBe(0);
    expect(out.abs).toBe(0x20123);
    // SX 511 stays in the last page below 2^64: outside memory.
    const below = fromU64(0x1ff0_0000n, { hi: 0, lo: 0 });
    expect(translate(s, 0xffff_ffff, asceLo, below, false, 0, { edat1: false, edat2: false }, out)).toBe(PGM.ADDRESSING);
  });
});

describe('DAT table-length and table-offset tests at their boundaries', () => {
  const none = { edat1: false, edat2: false };
  const out = (): Translation => emptyTranslation();
  // Region-first table at 0x10000 (all entries invalid but one, set per test).
  const space = (): AbsoluteStorage => {
    const s = new AbsoluteStorage(1 << 24);
    for (let i = 0; i < 2048; i++) u64(s, 0x10000 + i * 8, 0x20n | (3n << 2n));
    return s;
  };
  const va = (index01: number, shift: bigint): ReturnType<typeof fromU64> => fromU64(BigInt(index01) << (shift + 9n), { hi: 0, lo: 0 });

  it('the ASCE table length admits the first two bits of the top index up to TL, at every designation type', () => {
    // DT 3: RFX01 is bits 0-1 (shift 53+9); DT 2: RSX01 (42+9); DT 1: RTX01 (31+9); DT 0: SX01 (20+9).
    for (const [dt, shift] of [[3, 53n], [2, 42n], [1, 31n], [0, 20n]] as const) {
      for (let tl = 0; tl < 4; tl++) {
        for (let index01 = 0; index01 < 4; index01++) {
          const o = out();
          translate(space(), 0, 0x10000 | (dt << 2) | tl, va(index01, shift), false, 0, none, o);
          expect(/exceeds the ASCE table length/.test(o.detail), `DT ${dt} TL ${tl} index01 ${index01}`).toBe(index01 > tl);
        }
      }
    }
  });

  it('a region entry admits the next index from its table offset TF through its length TL', () => {
    for (let tf = 0; tf < 4; tf++) {
      for (let tl = 0; tl < 4; tl++) {
        const s = space();
        // RFX 0 → a region-second table at 0x20000 with offset TF and length TL.
        u64(s, 0x10000, 0x20000n | (BigInt(tf) << 6n) | (3n << 2n) | BigInt(tl));
        for (let rsx01 = 0; rsx01 < 4; rsx01++) {
          const o = out();
          translate(s, 0, 0x10000 | (3 << 2) | 3, va(rsx01, 42n), false, 0, none, o);
          expect(/next index outside its table offset/.test(o.detail), `TF ${tf} TL ${tl} RSX01 ${rsx01}`).toBe(rsx01 < tf || rsx01 > tl);
        }
      }
    }
  });
});
