// The u64 `flags` field arrives as a number or a bigint; these answer bit questions without
// turning the common number case into a BigInt.

/** A u64 flags value after argument checking: a safe non-negative integer or a bigint < 2^64. */
export type Flags64 = number | bigint;

const TWO_32 = 0x1_0000_0000;

/** True when `flags` has any bit outside the 32-bit `allowed` mask. */
export function hasFlagsOutside(flags: Flags64, allowed: number): boolean {
  if (typeof flags === 'number') {
    if (flags >= TWO_32) return true;
    return (flags & ~allowed) !== 0;
  }
  return (flags & ~BigInt(allowed)) !== 0n;
}

/** True when `bit` (a single low bit) is set in `flags`. */
export function hasFlag(flags: Flags64, bit: number): boolean {
  if (typeof flags === 'number') {
    // `%` of a non-Smi divisor is a floating-point remainder (a C call in V8): only for
    // flags above 32 bits; below, `&` already sees the low word.
    return ((flags < TWO_32 ? flags : flags % TWO_32) & bit) !== 0;
  }
  return (flags & BigInt(bit)) !== 0n;
}
