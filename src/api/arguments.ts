// Argument checks done once, above every backend: the kernel trusts user pointers and
// truncates numbers into struct fields; we refuse such input before any ioctl with a
// Node-style error code.
import type { Flags64 } from '../abi/flags.js';
import type { MemOpRequest } from '../contract.js';
import { ArgumentRangeError, ArgumentTypeError } from '../errors.js';

const U32_MAX = 0xffff_ffff;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `a string`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return typeof value;
}

function outOfRange(name: string, range: string, value: unknown): ArgumentRangeError {
  return new ArgumentRangeError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${describe(value)}`);
}

/** An integer number in [min, max]. */
export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new ArgumentTypeError(`The "${name}" argument must be of type number. Received ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

export const checkU8 = (value: unknown, name: string): number => checkInteger(value, name, 0, 0xff);
export const checkU32 = (value: unknown, name: string): number => checkInteger(value, name, 0, U32_MAX);

/** A u64 given as a bigint or a safe non-negative integer number; returned as a bigint. */
export function checkU64(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    // The same test as 0n <= value < 2n ** 64n, in one BigInt operation instead of two compares.
    if (BigInt.asUintN(64, value) !== value) throw outOfRange(name, '>= 0n and < 2n ** 64n', value);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a safe integer >= 0 (or a bigint below 2n ** 64n)', value);
    return BigInt(value);
  }
  throw new ArgumentTypeError(`The "${name}" argument must be of type bigint or number. Received ${describe(value)}`);
}

/** A u64 flags value, kept as given so the common number case stays cheap. */
export function checkFlags(value: unknown, name: string): Flags64 {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a safe integer >= 0 (or a bigint below 2n ** 64n)', value);
    return value;
  }
  return checkU64(value, name);
}

export function checkBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ArgumentTypeError(`The "${name}" argument must be an instance of Uint8Array or Buffer. Received ${describe(value)}`);
  }
  return value;
}

/**
 * The bytes a Uint8Array really holds: 0 when its ArrayBuffer is detached (or a shrunk
 * resizable buffer left it out of bounds). Not `.length`: on Node 20, once some buffer has
 * been detached, V8 11.3's optimized code at a site that has seen SharedArrayBuffer- or
 * resizable-buffer-backed views can return a detached view's old length (test/fuzz.test.ts
 * found it; a memop then read zeros from, or wrote nothing to, a buffer that no longer
 * exists). `byteLength` (equal to the length for bytes) is computed with the detached check
 * in every case we could provoke (test/robustness.test.ts), and costs one load.
 */
export function byteCount(bytes: Uint8Array): number {
  return bytes.byteLength;
}

function checkOptionalBytes(value: unknown, name: string, size: number): Uint8Array | null {
  if (value === undefined || value === null) return null;
  const bytes = checkBytes(value, name);
  const length = byteCount(bytes);
  if (length < size) {
    throw new ArgumentRangeError(
      'ERR_BUFFER_TOO_SMALL',
      `"${name}" holds ${length} bytes but size is ${size}: the kernel would access memory beyond it`,
    );
  }
  return bytes;
}

/**
 * The descriptor a caller passes to `memop`: `struct kvm_s390_mem_op` with buffers for
 * pointers.
 *
 * @example
 * ```ts
 * const d: MemOpDesc = { op: MEMOP.ABSOLUTE_READ, gaddr: 0x1000, size: 8, buf: new Uint8Array(8) };
 * ```
 */
export interface MemOpDesc {
  /** `MEMOP` code (any u32; the kernel refuses unknown ones). */
  op: number;
  /** Guest address (logical or absolute by op); default 0. */
  gaddr?: number | bigint;
  /** Bytes of the access (u32). */
  size: number;
  /** `MEMOP_F` bits (u64); default 0. */
  flags?: number | bigint;
  /** Data source or sink; absent or null is a NULL pointer. */
  buf?: Uint8Array | null;
  /** Access key for SKEY_PROTECTION (u8; the kernel refuses above 15). */
  key?: number;
  /** Access register number of logical ops (u8; the kernel refuses above 15). */
  ar?: number;
  /** SIDA ops: shares its bytes with `ar` and `key` (big-endian layout). */
  sidaOffset?: number;
  /** Cmpxchg: the expected value; receives the kernel's write-back. */
  old?: Uint8Array | null;
}

/**
 * Checks a descriptor and returns the request a backend receives. `ar`, `key` and
 * `sidaOffset` come out consistent with their union as s390x lays it out (`ar` is the most
 * significant byte of `sidaOffset`, `key` the next).
 */
export function checkMemOpDesc(d: unknown): MemOpRequest {
  if (typeof d !== 'object' || d === null) {
    throw new ArgumentTypeError(`The "descriptor" argument must be an object. Received ${describe(d)}`);
  }
  const desc = d as Record<string, unknown>;
  const op = checkU32(desc.op, 'descriptor.op');
  const size = checkU32(desc.size, 'descriptor.size');
  const gaddr = desc.gaddr === undefined ? 0n : checkU64(desc.gaddr, 'descriptor.gaddr');
  const flags = desc.flags === undefined ? 0 : checkFlags(desc.flags, 'descriptor.flags');
  const buf = checkOptionalBytes(desc.buf, 'descriptor.buf', size);
  const old = checkOptionalBytes(desc.old, 'descriptor.old', size);
  let ar = desc.ar === undefined ? 0 : checkU8(desc.ar, 'descriptor.ar');
  let key = desc.key === undefined ? 0 : checkU8(desc.key, 'descriptor.key');
  let sidaOffset: number;
  if (desc.sidaOffset !== undefined) {
    sidaOffset = checkU32(desc.sidaOffset, 'descriptor.sidaOffset');
    const arFromUnion = sidaOffset >>> 24;
    const keyFromUnion = (sidaOffset >>> 16) & 0xff;
    if ((desc.ar !== undefined && ar !== arFromUnion) || (desc.key !== undefined && key !== keyFromUnion)) {
      throw new ArgumentRangeError(
        'ERR_INVALID_ARG_VALUE',
        'descriptor.sidaOffset shares its bytes with descriptor.ar and descriptor.key; give either, or values that agree',
      );
    }
    ar = arFromUnion;
    key = keyFromUnion;
  } else {
    sidaOffset = ((ar << 24) | (key << 16)) >>> 0;
  }
  return { op, gaddr, size, flags, buf, key, ar, sidaOffset, old };
}

/** An access length for the helpers: 1..u32, as the kernel's `size` field. */
export function checkLength(value: unknown, name = 'length'): number {
  return checkInteger(value, name, 0, U32_MAX);
}

export function checkAccessKey(value: unknown): number | undefined {
  return value === undefined ? undefined : checkU8(value, 'options.key');
}
