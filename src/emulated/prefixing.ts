// Prefixing (docs/memop-semantics.md §8.6.1): the vcpu's two 8 KiB areas — real 0..8191 and real P..P+8191 —
// swap places; every other real address is its absolute address.

import { PREFIX_AREA } from '../abi/constants.js';

/** Absolute address of real address `real` (a number; may be Infinity) under prefix `prefix`. */
export function realToAbsolute(real: number, prefix: number): number {
  if (real < PREFIX_AREA) return real + prefix;
  if (real >= prefix && real < prefix + PREFIX_AREA) return real - prefix;
  return real;
}
