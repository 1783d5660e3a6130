// PSW fields a logical access depends on (docs/memop-semantics.md §8.1–§8.3): DAT, address-space control,
// addressing mode, and the effective address with its wrap at 2^24, 2^31 or 2^64.

// PSW bits as positions in the mask's high and low 32-bit words.
const PSW_HI_DAT = 1 << 26; // bit 5
const PSW_HI_EA = 1; // bit 31
const PSW_LO_BA = 0x80000000; // bit 32

/** Address-space control, PSW bits 16–17. */
export const AS = { PRIMARY: 0, ACCESS_REGISTER: 1, SECONDARY: 2, HOME: 3 } as const;

export type AddressingMode = 24 | 31 | 64;

export function datEnabled(pswHi: number): boolean {
  return (pswHi & PSW_HI_DAT) !== 0;
}

/** PSW bits 16–17. */
export function addressSpaceControl(pswHi: number): number {
  return (pswHi >>> 14) & 3;
}

/** (EA, BA) = (1, 1) is 64-bit, (0, 1) 31-bit; everything else, even the invalid (1, 0), 24-bit. */
export function addressingMode(pswHi: number, pswLo: number): AddressingMode {
  if ((pswLo & PSW_LO_BA) === 0) return 24;
  return (pswHi & PSW_HI_EA) !== 0 ? 64 : 31;
}

/** A 64-bit address as two unsigned 32-bit halves, so the hot path needs no BigInt. */
export interface Address64 {
  hi: number;
  lo: number;
}

/** Applies the addressing mode to `a` in place. */
export function toEffective(a: Address64, mode: AddressingMode): void {
  if (mode === 64) return;
  a.hi = 0;
  a.lo = mode === 31 ? a.lo & 0x7fffffff : a.lo & 0x00ffffff;
}

/** Adds `n` (< 2^32) to `a` in place, carrying into the high half and wrapping at 2^64. */
export function advance(a: Address64, n: number): void {
  const lo = a.lo + n;
  if (lo >= 0x1_0000_0000) {
    a.lo = lo - 0x1_0000_0000;
    a.hi = (a.hi + 1) >>> 0;
  } else {
    a.lo = lo;
  }
}

/** A u64 given as a number (below 2^53) or a bigint, split into halves. */
export function fromU64(value: number | bigint, out: Address64): Address64 {
  if (typeof value === 'number') {
    out.hi = Math.floor(value / 0x1_0000_0000);
    out.lo = value >>> 0;
  } else if (value <= 0x1f_ffff_ffff_ffffn) {
    // One conversion instead of two BigInt operations for every address below 2^53.
    const n = Number(value);
    out.hi = Math.floor(n / 0x1_0000_0000);
    out.lo = n >>> 0;
  } else {
    out.hi = Number(value >> 32n);
    out.lo = Number(value & 0xffffffffn);
  }
  return out;
}

/** The address as a JS number; Infinity when it is too large to be in any memslot we model. */
export function asNumber(hi: number, lo: number): number {
  return hi < 0x200000 ? hi * 0x1_0000_0000 + lo : Infinity;
}

export function formatAddress(hi: number, lo: number): string {
  return hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
}
