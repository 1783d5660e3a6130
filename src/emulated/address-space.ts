// PSW fields a logical access depends on (spec §8.1–§8.3): DAT, address-space control,
// addressing mode, and the effective address with its wrap at 2^24, 2^31 or 2^64.

const PSW_DAT = 1n << 58n; // bit 5
const PSW_EA = 1n << 32n; // bit 31
const PSW_BA = 1n << 31n; // bit 32

/** Address-space control, PSW bits 16–17. */
export const AS = { PRIMARY: 0, ACCESS_REGISTER: 1, SECONDARY: 2, HOME: 3 } as const;

export type AddressingMode = 24 | 31 | 64;

export function datEnabled(pswMask: bigint): boolean {
  return (pswMask & PSW_DAT) !== 0n;
}

export function addressSpaceControl(pswMask: bigint): number {
  return Number((pswMask >> 46n) & 3n);
}

/** (EA, BA) = (1, 1) is 64-bit, (0, 1) 31-bit; everything else, even the invalid (1, 0), 24-bit. */
export function addressingMode(pswMask: bigint): AddressingMode {
  const ba = (pswMask & PSW_BA) !== 0n;
  if (!ba) return 24;
  return (pswMask & PSW_EA) !== 0n ? 64 : 31;
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

export function fromBigInt(value: bigint, out: Address64): Address64 {
  out.hi = Number(value >> 32n);
  out.lo = Number(value & 0xffffffffn);
  return out;
}

/** The address as a JS number; Infinity when it is too large to be in any memslot we model. */
export function asNumber(hi: number, lo: number): number {
  return hi < 0x200000 ? hi * 0x1_0000_0000 + lo : Infinity;
}

export function formatAddress(hi: number, lo: number): string {
  return hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
}
