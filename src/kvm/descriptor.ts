// The memop descriptor the addon reads: one 64-byte struct kvm_s390_mem_op per handle, in
// host byte order, filled in place for every call (no allocation on the hot path). The
// addon ignores its buf/old_addr fields and points them at the request's buffers itself.
// A MemOpChannel keeps that descriptor in memory the addon handed out once (its
// createMemOpChannel), so each call passes only the fd and the buffers.
import { MEMOP, MEM_OP_OFFSET, STRUCT_SIZE } from '../abi/constants.js';
import { HOST_BYTE_ORDER } from '../abi/structs.js';
import type { MemOpRequest } from '../contract.js';
import type { NativeAddon } from './native.js';

const LE = HOST_BYTE_ORDER === 'little';
const TWO_32 = 0x1_0000_0000;

/** A u64 field in host byte order from a number (below 2^53: no BigInt work) or a bigint. */
function setU64(v: DataView, offset: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    v.setBigUint64(offset, value, LE);
    return;
  }
  // No `%` by 2^32: a remainder by a non-small-integer is a floating-point call in V8.
  const high = value < TWO_32 ? 0 : Math.floor(value / TWO_32);
  v.setUint32(offset + (LE ? 0 : 4), value - high * TWO_32, LE);
  v.setUint32(offset + (LE ? 4 : 0), high, LE);
}

export class MemOpDescriptor {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array = new Uint8Array(STRUCT_SIZE.kvm_s390_mem_op)) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Writes `req` into the descriptor; returns its bytes. */
  fill(req: MemOpRequest): Uint8Array {
    const v = this.#view;
    setU64(v, MEM_OP_OFFSET.gaddr, req.gaddr);
    setU64(v, MEM_OP_OFFSET.flags, req.flags);
    v.setUint32(MEM_OP_OFFSET.size, req.size, LE);
    v.setUint32(MEM_OP_OFFSET.op, req.op, LE);
    // The union at 32: SIDA ops read sida_offset there, every other op reads ar and key.
    v.setUint32(32, 0, LE);
    v.setUint32(36, 0, LE);
    if (req.op === MEMOP.SIDA_READ || req.op === MEMOP.SIDA_WRITE) {
      v.setUint32(MEM_OP_OFFSET.sida_offset, req.sidaOffset, LE);
    } else {
      v.setUint8(MEM_OP_OFFSET.ar, req.ar);
      v.setUint8(MEM_OP_OFFSET.key, req.key);
    }
    return this.bytes;
  }
}

/** KVM_S390_MEM_OP through the addon's channel: the descriptor filled in place, then one call. */
export class MemOpChannel {
  readonly #descriptor: MemOpDescriptor;
  readonly #call: (fd: number, buf: Uint8Array | null, old?: Uint8Array | null) => number;

  constructor(addon: NativeAddon) {
    const channel = addon.createMemOpChannel();
    this.#descriptor = new MemOpDescriptor(channel.descriptor);
    this.#call = channel.memop;
  }

  /** 0, a positive program-interruption code, or -errno. */
  memop(fd: number, req: MemOpRequest): number {
    this.#descriptor.fill(req);
    // Without `old` the addon has one argument less to look at.
    return req.old === null ? this.#call(fd, req.buf) : this.#call(fd, req.buf, req.old);
  }
}
