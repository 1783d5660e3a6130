// Page, key-chunk and segment numbers of absolute addresses, and offsets in a page. In V8's
// optimizing compiler an imported constant is a load, not a constant, so `abs / PAGE_SIZE`
// compiles to a floating-point division, the slowest step of a small access (about 15 cycles,
// measured with perf on the 8-byte memop). Multiplying by a power of two written as a literal
// is exact for every integer below 2^53, so the result is the same number. Offsets are masks:
// `%` of a double is a C call in V8, `&` keeps the low bits of any integer below 2^53 exactly.

/** The 4 KiB page that holds absolute address `abs`: Math.floor(abs / 4096). */
export function pageNumber(abs: number): number {
  return Math.floor(abs * 0.000244140625);
}

/** Math.floor(n / 256): the 256-page (1 MiB) group that holds page `n`, or the slab of allocation index `n`. */
export function groupOf256(n: number): number {
  return Math.floor(n * 0.00390625);
}

/**
 * `abs & PAGE_MASK` is abs % 4096. A constant, not a helper function: each `&` then keeps its
 * own type feedback (a shared helper saw every caller's operands and slowed the 8-byte memop
 * by 4 ns, bench/).
 */
export const PAGE_MASK = 0xfff;
