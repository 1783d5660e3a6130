// Argument checks done once, above every backend: the kernel trusts user pointers and
// truncates numbers into struct fields; we refuse such input before any ioctl with a
// Node-style error code.
import type { Flags64 } from '../abi/flags.js';
import type { MemOpRequest } from '../contract.js';
import { types } from 'node:util';
import { ArgumentRangeError, ArgumentTypeError } from '../errors.js';
import { byteLengthOf, isUint8Array, plainView } from '../typed-arrays.js';

const { isProxy } = types;

const U32_MAX = 0xffff_ffff;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `a string`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'object') {
    if (isProxy(value)) return 'a Proxy';
    try {
      return `an instance of ${(value as { constructor?: { name?: unknown } }).constructor?.name ?? 'Object'}`;
    } catch {
      return 'an object whose constructor cannot be read';
    }
  }
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

/** A real Uint8Array or Buffer (subclasses too); a Proxy or a look-alike is refused. */
export function checkBytes(value: unknown, name: string): Uint8Array {
  if (!isUint8Array(value)) {
    throw new ArgumentTypeError(`The "${name}" argument must be an instance of Uint8Array or Buffer. Received ${describe(value)}`);
  }
  return value;
}

function checkOptionalBytes(value: unknown, name: string, size: number): Uint8Array | null {
  if (value === undefined || value === null) return null;
  const bytes = checkBytes(value, name);
  const length = byteLengthOf(bytes);
  if (length < size) {
    throw new ArgumentRangeError(
      'ERR_BUFFER_TOO_SMALL',
      `"${name}" holds ${length} bytes but size is ${size}: the kernel would access memory beyond it`,
    );
  }
  return bytes;
}

/** The coded error for an argument whose properties cannot be read (a revoked Proxy, a throwing getter). */
export function unreadable(name: string, cause: unknown): ArgumentTypeError {
  const why = cause instanceof Error ? cause.message : 'a getter threw';
  return new ArgumentTypeError(`The "${name}" argument could not be read: ${why}`, { cause });
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
  // Every field is read exactly once, before anything is checked: a getter that detaches or
  // shrinks `buf`, or returns another value on a second read, then changes nothing below.
  let opValue: unknown, sizeValue: unknown, gaddrValue: unknown, flagsValue: unknown, bufValue: unknown;
  let keyValue: unknown, arValue: unknown, sidaValue: unknown, oldValue: unknown;
  try {
    const desc = d as Record<string, unknown>;
    opValue = desc.op;
    sizeValue = desc.size;
    gaddrValue = desc.gaddr;
    flagsValue = desc.flags;
    bufValue = desc.buf;
    keyValue = desc.key;
    arValue = desc.ar;
    sidaValue = desc.sidaOffset;
    oldValue = desc.old;
  } catch (err) {
    throw unreadable('descriptor', err);
  }
  const op = checkU32(opValue, 'descriptor.op');
  const size = checkU32(sizeValue, 'descriptor.size');
  const gaddr = gaddrValue === undefined ? 0n : checkU64(gaddrValue, 'descriptor.gaddr');
  const flags = flagsValue === undefined ? 0 : checkFlags(flagsValue, 'descriptor.flags');
  const buf = checkOptionalBytes(bufValue, 'descriptor.buf', size);
  const old = checkOptionalBytes(oldValue, 'descriptor.old', size);
  let ar = arValue === undefined ? 0 : checkU8(arValue, 'descriptor.ar');
  let key = keyValue === undefined ? 0 : checkU8(keyValue, 'descriptor.key');
  let sidaOffset: number;
  if (sidaValue !== undefined) {
    sidaOffset = checkU32(sidaValue, 'descriptor.sidaOffset');
    const arFromUnion = sidaOffset >>> 24;
    const keyFromUnion = (sidaOffset >>> 16) & 0xff;
    if ((arValue !== undefined && ar !== arFromUnion) || (keyValue !== undefined && key !== keyFromUnion)) {
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

/**
 * An options argument: absent (undefined) or an object. Its fields are read once each by
 * readOption and checked after that, so a getter cannot change what was checked.
 */
export function checkOptions(value: unknown, name = 'options'): object | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new ArgumentTypeError(`The "${name}" argument must be an object. Received ${describe(value)}`);
  }
  return value;
}

/** `options[key]`, read once; a throwing getter or a revoked Proxy becomes a coded error. */
export function readOption(options: object | undefined, key: string, name = 'options'): unknown {
  if (options === undefined) return undefined;
  try {
    return (options as Record<string, unknown>)[key];
  } catch (err) {
    throw unreadable(name, err);
  }
}

/** An optional boolean field: undefined or true/false, nothing else. */
export function checkOptionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new ArgumentTypeError(`The "${name}" argument must be of type boolean. Received ${describe(value)}`);
}

/**
 * The bytes of `bytes` as they are now, as a plain Uint8Array over the same memory: what a
 * backend receives when it must not look anything up on the caller's object. A detached
 * buffer gives an empty view.
 */
export function snapshotBytes(bytes: Uint8Array): Uint8Array {
  const length = byteLengthOf(bytes);
  return length === 0 ? new Uint8Array(0) : plainView(bytes, 0, length);
}
