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

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// A bigint below 2^53 as a number without Number(): V8 converts through its runtime and
// allocates the result (about 20 ns a call here); a store into a BigUint64Array and two
// 32-bit loads stay inline. Used between two statements with no call in between, so the
// scratch words cannot be seen half-written by anyone.
const u64Scratch = new BigUint64Array(1);
const u64Words = new Uint32Array(u64Scratch.buffer);
const HIGH_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW_WORD = 1 - HIGH_WORD;

function smallBigIntToNumber(value: bigint): number {
  u64Scratch[0] = value;
  return u64Words[HIGH_WORD]! * 0x1_0000_0000 + u64Words[LOW_WORD]!;
}

/**
 * A u64 address: a number whenever the value is below 2^53 (given as a number or a bigint),
 * else a bigint. Hot paths then do no BigInt work for any address a guest can have memory at.
 */
export function checkAddress(value: unknown, name: string): number | bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= MAX_SAFE) return smallBigIntToNumber(value);
    return checkU64(value, name);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a safe integer >= 0 (or a bigint below 2n ** 64n)', value);
    return value;
  }
  return checkU64(value, name);
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
 * A descriptor with every field present, in one fixed order. The helpers (read, write, check,
 * cmpxchg, SIDA) make all theirs here, so checkMemOpDesc sees one object shape from them, not
 * one per helper and option: its property reads turned megamorphic in V8 once they had seen
 * more than four shapes, and every memop then paid for a lookup per field (+35 ns in bench/).
 */
export function helperDescriptor(
  op: number,
  gaddr: number | bigint | undefined,
  size: number,
  buf: Uint8Array | null | undefined,
  flags: number,
  key: number | undefined,
  ar?: number,
  sidaOffset?: number,
  old?: Uint8Array,
): MemOpDesc {
  return { op, gaddr, size, flags, buf, key, ar, sidaOffset, old };
}

/** A request object to fill with checkMemOpDesc (one per handle: the hot path allocates none). */
export function emptyMemOpRequest(): MemOpRequest {
  return { op: 0, gaddr: 0, size: 0, flags: 0, buf: null, key: 0, ar: 0, sidaOffset: 0, old: null };
}

/**
 * Checks a descriptor and returns the request a backend receives: `out` filled in, or a new
 * object. `ar`, `key` and `sidaOffset` come out consistent with their union as s390x lays it
 * out (`ar` is the most significant byte of `sidaOffset`, `key` the next).
 *
 * `out` is written only after every field was read and checked: a getter on the descriptor
 * that runs another memop with the same `out` (re-entrancy) finishes before this call writes
 * it, and a backend runs no caller code while it uses the request.
 */
export function checkMemOpDesc(d: unknown, out?: MemOpRequest): MemOpRequest {
  if (typeof d !== 'object' || d === null) throw notADescriptor(d);
  // Every field is read exactly once, all before anything is checked: a getter that detaches
  // or shrinks `buf`, or answers differently on a second read, then changes nothing below.
  let opIn: unknown, sizeIn: unknown, gaddrIn: unknown, flagsIn: unknown, bufIn: unknown;
  let oldIn: unknown, arIn: unknown, keyIn: unknown, sidaIn: unknown;
  try {
    const desc = d as Record<string, unknown>;
    opIn = desc.op;
    sizeIn = desc.size;
    gaddrIn = desc.gaddr;
    flagsIn = desc.flags;
    bufIn = desc.buf;
    oldIn = desc.old;
    arIn = desc.ar;
    keyIn = desc.key;
    sidaIn = desc.sidaOffset;
  } catch (err) {
    throw unreadable('descriptor', err);
  }
  const r = out ?? emptyMemOpRequest();
  // The descriptor of nearly every call (a u64 address is a bigint), accepted in a few tests
  // that need no call (a u32 is a number equal to itself >>> 0). Anything else, valid or not,
  // a number address included, takes the full checks with their errors. This function must
  // stay below V8's 460 bytes of bytecode for one inlined function (node --print-bytecode):
  // above it every memop paid a call here, and a branch for number addresses both crossed
  // that line and made V8 box the converted bigint (+10 ns each, bench/).
  if (
    typeof gaddrIn === 'bigint' && gaddrIn >= 0n && gaddrIn <= MAX_SAFE &&
    typeof opIn === 'number' && opIn >>> 0 === opIn &&
    typeof sizeIn === 'number' && sizeIn >>> 0 === sizeIn &&
    (flagsIn === undefined || (typeof flagsIn === 'number' && flagsIn >>> 0 === flagsIn)) &&
    (keyIn === undefined || (typeof keyIn === 'number' && (keyIn & 0xf) === keyIn)) &&
    oldIn == null && arIn === undefined && sidaIn === undefined &&
    isUint8Array(bufIn) && byteLengthOf(bufIn) >= sizeIn
  ) {
    const key = keyIn === undefined ? 0 : keyIn;
    r.op = opIn;
    r.gaddr = smallBigIntToNumber(gaddrIn);
    r.size = sizeIn;
    r.flags = flagsIn === undefined ? 0 : flagsIn;
    r.buf = bufIn;
    r.ar = 0;
    r.key = key;
    r.sidaOffset = key << 16;
    r.old = null;
    return r;
  }
  return checkFields(r, opIn, sizeIn, gaddrIn, flagsIn, bufIn, oldIn, arIn, keyIn, sidaIn);
}

/** checkMemOpDesc's full checks of fields already read. */
function checkFields(
  r: MemOpRequest,
  opIn: unknown,
  sizeIn: unknown,
  gaddrIn: unknown,
  flagsIn: unknown,
  bufIn: unknown,
  oldIn: unknown,
  arIn: unknown,
  keyIn: unknown,
  sidaIn: unknown,
): MemOpRequest {
  const op = typeof opIn === 'number' && opIn >>> 0 === opIn ? opIn : checkU32(opIn, 'descriptor.op');
  const size = typeof sizeIn === 'number' && sizeIn >>> 0 === sizeIn ? sizeIn : checkU32(sizeIn, 'descriptor.size');
  const gaddr = typeof gaddrIn === 'bigint' && gaddrIn <= MAX_SAFE && gaddrIn >= 0n ? smallBigIntToNumber(gaddrIn) : checkOptionalAddress(gaddrIn);
  const flags = flagsIn === undefined ? 0 : typeof flagsIn === 'number' && flagsIn >>> 0 === flagsIn ? flagsIn : checkFlags(flagsIn, 'descriptor.flags');
  const buf = bufIn == null ? null : checkBytesOfSize(bufIn, 'descriptor.buf', size);
  const old = oldIn == null ? null : checkBytesOfSize(oldIn, 'descriptor.old', size);
  const ar = arIn === undefined ? 0 : typeof arIn === 'number' && (arIn & 0xff) === arIn ? arIn : checkU8(arIn, 'descriptor.ar');
  const key = keyIn === undefined ? 0 : typeof keyIn === 'number' && (keyIn & 0xff) === keyIn ? keyIn : checkU8(keyIn, 'descriptor.key');
  // ar is the most significant byte of the u32 union, key the next (s390x layout).
  const sidaOffset = sidaIn === undefined ? ((ar << 24) | (key << 16)) >>> 0 : checkSidaUnion(sidaIn, arIn, keyIn, ar, key);
  r.op = op;
  r.gaddr = gaddr;
  r.size = size;
  r.flags = flags;
  r.buf = buf;
  r.ar = sidaOffset >>> 24;
  r.key = (sidaOffset >>> 16) & 0xff;
  r.sidaOffset = sidaOffset;
  r.old = old;
  return r;
}

function notADescriptor(d: unknown): ArgumentTypeError {
  return new ArgumentTypeError(`The "descriptor" argument must be an object. Received ${describe(d)}`);
}

function checkOptionalAddress(value: unknown): number | bigint {
  return value === undefined ? 0 : checkAddress(value, 'descriptor.gaddr');
}

function checkBytesOfSize(value: unknown, name: string, size: number): Uint8Array {
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

/** `sidaOffset` given: it must agree with any `ar` and `key` given, which share its bytes. */
function checkSidaUnion(sidaIn: unknown, arIn: unknown, keyIn: unknown, ar: number, key: number): number {
  const sidaOffset = checkU32(sidaIn, 'descriptor.sidaOffset');
  if ((arIn !== undefined && ar !== sidaOffset >>> 24) || (keyIn !== undefined && key !== ((sidaOffset >>> 16) & 0xff))) {
    throw new ArgumentRangeError(
      'ERR_INVALID_ARG_VALUE',
      'descriptor.sidaOffset shares its bytes with descriptor.ar and descriptor.key; give either, or values that agree',
    );
  }
  return sidaOffset;
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
