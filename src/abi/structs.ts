// Byte-exact encoders/decoders of the kernel structs, for either byte order. s390x stores
// them big-endian; the codecs are what the ABI tests pin and what the native mirror is
// compared against.
import { checkOptions, checkU32, checkU64, checkU8, checkBytes, readOption } from '../api/arguments.js';
import { ArgumentRangeError } from '../errors.js';
import { byteLengthOf, plainView } from '../typed-arrays.js';
import { MEM_OP_OFFSET, SKEYS_OFFSET, SREGS_OFFSET, STRUCT_SIZE, NUM_ACRS, NUM_CRS } from './constants.js';

/**
 * A byte order: s390x is 'big'; x86_64 'little'.
 *
 * @example
 * ```ts
 * const order: ByteOrder = HOST_BYTE_ORDER;
 * ```
 */
export type ByteOrder = 'big' | 'little';

/**
 * The byte order of the machine running this process.
 *
 * @example
 * ```ts
 * encodeMemOp(fields, HOST_BYTE_ORDER); // the bytes the host kernel reads
 * ```
 */
export const HOST_BYTE_ORDER: ByteOrder =
  new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x01 ? 'big' : 'little';

/**
 * `struct kvm_s390_mem_op` as plain values; pointers are raw u64 addresses.
 *
 * @example
 * ```ts
 * const m: MemOpStruct = { gaddr: 0x1000n, flags: 0n, size: 8, op: MEMOP.ABSOLUTE_READ, buf: 0n, ar: 0, key: 0, oldAddr: 0n };
 * ```
 */
export interface MemOpStruct {
  /** Guest address. */
  gaddr: bigint;
  /** `MEMOP_F` bits. */
  flags: bigint;
  /** Bytes of the access. */
  size: number;
  /** `MEMOP` code. */
  op: number;
  /** User address of the data buffer. */
  buf: bigint;
  /** Access register number (logical ops). */
  ar: number;
  /** Access key (with SKEY_PROTECTION). */
  key: number;
  /** Union with ar/key/pad1[0..1]; when set it is written after ar/key and wins. */
  sidaOffset?: number;
  /** User address of the expected value (ABSOLUTE_CMPXCHG). */
  oldAddr: bigint;
}

/** 'little' or 'big', nothing else: true for little-endian. */
function littleEndian(order: unknown): boolean {
  if (order !== 'little' && order !== 'big') throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `order must be 'big' or 'little'`);
  return order === 'little';
}

/** A DataView over the first `size` bytes of a caller's Uint8Array, measured by the engine. */
function structView(bytes: unknown, name: string, size: number): DataView {
  const view = checkBytes(bytes, name);
  const holds = byteLengthOf(view);
  if (holds < size) throw new ArgumentRangeError('ERR_BUFFER_TOO_SMALL', `"${name}" holds ${holds} bytes; the struct needs ${size}`);
  const plain = plainView(view, 0, size);
  return new DataView(plain.buffer, plain.byteOffset, size);
}

/** Reads a struct argument's fields, each once (a getter or a revoked Proxy: coded error). */
function fieldReader(value: unknown): (key: string) => unknown {
  const fields = checkOptions(value, 'struct') ?? {};
  return (key) => readOption(fields, key, 'struct');
}

/** Where an encoder writes: `into` (or a fresh array), its struct bytes zeroed first. */
function zeroedStruct(into: Uint8Array | undefined, size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = into ?? new Uint8Array(size);
  const view = structView(bytes, 'into', size);
  for (let i = 0; i < size; i += 4) view.setUint32(i, 0);
  return { bytes, view };
}

/**
 * Encodes `struct kvm_s390_mem_op` (64 bytes) in a byte order.
 *
 * @param m - The fields.
 * @param order - 'big' for s390x.
 * @param into - Where to write (64 bytes or more); a new array by default.
 * @returns `into`, holding the struct.
 * @throws RangeError (`ERR_BUFFER_TOO_SMALL`) when `into` is shorter than 64 bytes, (`ERR_OUT_OF_RANGE`) when a
 *   field does not fit its width, (`ERR_INVALID_ARG_VALUE`) when `order` is neither 'big' nor 'little'.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) when a field or `into` has the wrong type. Each field is read once.
 * @example
 * ```ts
 * const bytes = encodeMemOp({ gaddr: 0x1000n, flags: 0n, size: 8, op: 4, buf: 0n, ar: 0, key: 0, oldAddr: 0n }, 'big');
 * ```
 */
export function encodeMemOp(m: MemOpStruct, order: ByteOrder, into?: Uint8Array): Uint8Array {
  // Each field read once, then checked, then written: a getter cannot change what was checked.
  const read = fieldReader(m);
  const gaddr = checkU64(read('gaddr'), 'struct.gaddr');
  const flags = checkU64(read('flags'), 'struct.flags');
  const size = checkU32(read('size'), 'struct.size');
  const op = checkU32(read('op'), 'struct.op');
  const buf = checkU64(read('buf'), 'struct.buf');
  const ar = checkU8(read('ar'), 'struct.ar');
  const key = checkU8(read('key'), 'struct.key');
  const sidaValue = read('sidaOffset');
  const oldAddr = checkU64(read('oldAddr'), 'struct.oldAddr');
  const sidaOffset = sidaValue === undefined ? undefined : checkU32(sidaValue, 'struct.sidaOffset');
  const le = littleEndian(order);
  const { bytes: target, view: v } = zeroedStruct(into, STRUCT_SIZE.kvm_s390_mem_op);
  v.setBigUint64(MEM_OP_OFFSET.gaddr, gaddr, le);
  v.setBigUint64(MEM_OP_OFFSET.flags, flags, le);
  v.setUint32(MEM_OP_OFFSET.size, size, le);
  v.setUint32(MEM_OP_OFFSET.op, op, le);
  v.setBigUint64(MEM_OP_OFFSET.buf, buf, le);
  v.setUint8(MEM_OP_OFFSET.ar, ar);
  v.setUint8(MEM_OP_OFFSET.key, key);
  v.setBigUint64(MEM_OP_OFFSET.old_addr, oldAddr, le);
  if (sidaOffset !== undefined) v.setUint32(MEM_OP_OFFSET.sida_offset, sidaOffset, le);
  return target;
}

/**
 * Decodes `struct kvm_s390_mem_op` from its 64 bytes.
 *
 * @param bytes - The struct (64 bytes or more).
 * @param order - The byte order it was written in.
 * @returns The fields, `sidaOffset` read from the union.
 * @throws RangeError when `bytes` is shorter than 64 bytes.
 * @example
 * ```ts
 * decodeMemOp(encodeMemOp(m, 'big'), 'big').gaddr; // m.gaddr
 * ```
 */
export function decodeMemOp(bytes: Uint8Array, order: ByteOrder): Required<MemOpStruct> {
  const le = littleEndian(order);
  const v = structView(bytes, 'bytes', STRUCT_SIZE.kvm_s390_mem_op);
  return {
    gaddr: v.getBigUint64(MEM_OP_OFFSET.gaddr, le),
    flags: v.getBigUint64(MEM_OP_OFFSET.flags, le),
    size: v.getUint32(MEM_OP_OFFSET.size, le),
    op: v.getUint32(MEM_OP_OFFSET.op, le),
    buf: v.getBigUint64(MEM_OP_OFFSET.buf, le),
    ar: v.getUint8(MEM_OP_OFFSET.ar),
    key: v.getUint8(MEM_OP_OFFSET.key),
    sidaOffset: v.getUint32(MEM_OP_OFFSET.sida_offset, le),
    oldAddr: v.getBigUint64(MEM_OP_OFFSET.old_addr, le),
  };
}

/**
 * `struct kvm_s390_skeys` as plain values.
 *
 * @example
 * ```ts
 * const s: SkeysStruct = { startGfn: 0x100n, count: 1n, skeydataAddr: 0n, flags: 0 };
 * ```
 */
export interface SkeysStruct {
  /** First guest frame number. */
  startGfn: bigint;
  /** Number of keys. */
  count: bigint;
  /** User address of the key bytes. */
  skeydataAddr: bigint;
  /** Must be 0. */
  flags: number;
}

/**
 * Encodes `struct kvm_s390_skeys` (64 bytes) in a byte order.
 *
 * @param s - The fields.
 * @param order - 'big' for s390x.
 * @param into - Where to write (64 bytes or more); a new array by default.
 * @returns `into`, holding the struct.
 * @throws RangeError (`ERR_BUFFER_TOO_SMALL`) when `into` is shorter than 64 bytes, (`ERR_OUT_OF_RANGE`) when a
 *   field does not fit its width, (`ERR_INVALID_ARG_VALUE`) when `order` is neither 'big' nor 'little'.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) when a field or `into` has the wrong type. Each field is read once.
 * @example
 * ```ts
 * const bytes = encodeSkeys({ startGfn: 0x100n, count: 1n, skeydataAddr: 0n, flags: 0 }, 'big');
 * ```
 */
export function encodeSkeys(s: SkeysStruct, order: ByteOrder, into?: Uint8Array): Uint8Array {
  const read = fieldReader(s);
  const startGfn = checkU64(read('startGfn'), 'struct.startGfn');
  const count = checkU64(read('count'), 'struct.count');
  const skeydataAddr = checkU64(read('skeydataAddr'), 'struct.skeydataAddr');
  const flags = checkU32(read('flags'), 'struct.flags');
  const le = littleEndian(order);
  const { bytes: target, view: v } = zeroedStruct(into, STRUCT_SIZE.kvm_s390_skeys);
  v.setBigUint64(SKEYS_OFFSET.start_gfn, startGfn, le);
  v.setBigUint64(SKEYS_OFFSET.count, count, le);
  v.setBigUint64(SKEYS_OFFSET.skeydata_addr, skeydataAddr, le);
  v.setUint32(SKEYS_OFFSET.flags, flags, le);
  return target;
}

/**
 * Decodes `struct kvm_s390_skeys` from its 64 bytes.
 *
 * @param bytes - The struct (64 bytes or more).
 * @param order - The byte order it was written in.
 * @returns The fields.
 * @throws RangeError when `bytes` is shorter than 64 bytes.
 * @example
 * ```ts
 * decodeSkeys(encodeSkeys(s, 'big'), 'big').count; // s.count
 * ```
 */
export function decodeSkeys(bytes: Uint8Array, order: ByteOrder): SkeysStruct {
  const le = littleEndian(order);
  const v = structView(bytes, 'bytes', STRUCT_SIZE.kvm_s390_skeys);
  return {
    startGfn: v.getBigUint64(SKEYS_OFFSET.start_gfn, le),
    count: v.getBigUint64(SKEYS_OFFSET.count, le),
    skeydataAddr: v.getBigUint64(SKEYS_OFFSET.skeydata_addr, le),
    flags: v.getUint32(SKEYS_OFFSET.flags, le),
  };
}

/** `struct kvm_sregs` (s390): access registers and control registers. */
export interface SregsStruct {
  acrs: number[];
  crs: bigint[];
}

export function encodeSregs(s: SregsStruct, order: ByteOrder, into = new Uint8Array(STRUCT_SIZE.kvm_sregs)): Uint8Array {
  const le = order === 'little';
  const v = new DataView(into.buffer, into.byteOffset, STRUCT_SIZE.kvm_sregs);
  for (let i = 0; i < NUM_ACRS; i++) v.setUint32(SREGS_OFFSET.acrs + 4 * i, s.acrs[i] ?? 0, le);
  for (let i = 0; i < NUM_CRS; i++) v.setBigUint64(SREGS_OFFSET.crs + 8 * i, s.crs[i] ?? 0n, le);
  return into;
}

export function decodeSregs(bytes: Uint8Array, order: ByteOrder): SregsStruct {
  const le = order === 'little';
  const v = new DataView(bytes.buffer, bytes.byteOffset, STRUCT_SIZE.kvm_sregs);
  const acrs: number[] = [];
  const crs: bigint[] = [];
  for (let i = 0; i < NUM_ACRS; i++) acrs.push(v.getUint32(SREGS_OFFSET.acrs + 4 * i, le));
  for (let i = 0; i < NUM_CRS; i++) crs.push(v.getBigUint64(SREGS_OFFSET.crs + 8 * i, le));
  return { acrs, crs };
}
