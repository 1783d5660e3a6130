// Byte copies between guest pages and caller buffers that never run caller code: a caller's
// Uint8Array may be a subclass whose set/fill/subarray (or a `constructor` species) is its
// own, and a memop must not call it in the middle of an access. These use the intrinsic
// %TypedArray%.prototype methods captured when this module loads, make views with the
// Uint8Array constructor itself, and read buffer and offset through the intrinsic getters.
// The tiny case is a byte loop, which is cheaper than making a view for `set`.
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as Uint8Array;
const intrinsicSet = TypedArrayPrototype.set;
const intrinsicFill = TypedArrayPrototype.fill;
const bufferOf = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'buffer')!.get as (this: Uint8Array) => ArrayBufferLike;
const byteOffsetOf = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteOffset')!.get as (this: Uint8Array) => number;
const byteLengthOf = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength')!.get as (this: Uint8Array) => number;

/** Up to this many bytes are copied with a loop. */
export const SMALL_COPY = 32;

/** Copies `length` bytes from `src` at `srcOffset` to `dst` at `dstOffset` (both in bounds). */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i]!;
    return;
  }
  const whole = srcOffset === 0 && length === byteLengthOf.call(src);
  const from = whole ? src : new Uint8Array(bufferOf.call(src), byteOffsetOf.call(src) + srcOffset, length);
  intrinsicSet.call(dst, from, dstOffset);
}

/**
 * Copies `length` bytes at `byteOffset` of `buffer` (memory of our own, never a caller's) into
 * `dst` at `dstOffset`: one view and one copy, without asking a typed array for its buffer.
 */
export function copyFromBuffer(dst: Uint8Array, dstOffset: number, buffer: ArrayBuffer, byteOffset: number, length: number): void {
  intrinsicSet.call(dst, new Uint8Array(buffer, byteOffset, length), dstOffset);
}

/** Sets `length` bytes of `dst` from `offset` on to `value`. */
export function fillBytes(dst: Uint8Array, value: number, offset: number, length: number): void {
  intrinsicFill.call(dst, value, offset, offset + length);
}
