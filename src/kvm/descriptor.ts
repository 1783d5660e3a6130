// The memop descriptor the addon reads: one 64-byte struct kvm_s390_mem_op per handle, in
// host byte order, filled in place for every call (no allocation on the hot path). The
// addon ignores its buf/old_addr fields and points them at the request's buffers itself.
// A MemOpChannel keeps that descriptor in memory the addon handed out once (its
// createMemOpChannel, with the handle's fd), so each call passes only the channel's id and
// the buffers.
import { MEMOP, MEM_OP_OFFSET, STRUCT_SIZE } from '../abi/constants.js';
import { HOST_BYTE_ORDER } from '../abi/structs.js';
import type { MemOpRequest } from '../contract.js';
import type { NativeAddon } from './native.js';

const LE = HOST_BYTE_ORDER === 'little';
const TWO_32 = 0x1_0000_0000;
// The descriptor as host-order 32-bit words: one store per word, no DataView calls. A u64
// at word w keeps its low half in word w on a little-endian host, in word w + 1 on s390x.
const LOW = LE ? 0 : 1;
const HIGH = 1 - LOW;
const GADDR = MEM_OP_OFFSET.gaddr / 4;
const FLAGS = MEM_OP_OFFSET.flags / 4;
const SIZE = MEM_OP_OFFSET.size / 4;
const OP = MEM_OP_OFFSET.op / 4;
const UNION = MEM_OP_OFFSET.ar / 4;
const GADDR_LOW = GADDR + LOW;
const GADDR_HIGH = GADDR + HIGH;
const FLAGS_LOW = FLAGS + LOW;
const FLAGS_HIGH = FLAGS + HIGH;
const { SIDA_READ, SIDA_WRITE } = MEMOP;

/** A u64 field (`word`, `word + 1`) from a number (below 2^53: no BigInt work) or a bigint. */
function setU64(words: Uint32Array, word: number, value: number | bigint): void {
  if (typeof value !== 'number') {
    setBigU64(words, word, value);
    return;
  }
  // No `%` by 2^32: a remainder by a non-small-integer is a floating-point call in V8.
  const high = value < TWO_32 ? 0 : Math.floor(value / TWO_32);
  words[word + LOW] = value - high * TWO_32;
  words[word + HIGH] = high;
}

/** setU64 of a bigint, apart: setU64 stays small enough for V8 to inline into every memop. */
function setBigU64(words: Uint32Array, word: number, value: bigint): void {
  words[word + LOW] = Number(value & 0xffff_ffffn);
  words[word + HIGH] = Number(value >> 32n);
}

export class MemOpDescriptor {
  readonly bytes: Uint8Array;
  readonly #words: Uint32Array;

  constructor(bytes: Uint8Array = new Uint8Array(STRUCT_SIZE.kvm_s390_mem_op)) {
    this.bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, STRUCT_SIZE.kvm_s390_mem_op / 4);
  }

  /**
   * Writes `req` into the descriptor; returns its bytes. Written for V8 to inline into the
   * memop: module constants, not property reads, and the usual case (address and flags below
   * 2^32) with no call.
   */
  fill(req: MemOpRequest): Uint8Array {
    const w = this.#words;
    const { gaddr, flags, op } = req;
    if (typeof gaddr === 'number' && gaddr < TWO_32 && typeof flags === 'number' && flags < TWO_32) {
      w[GADDR_LOW] = gaddr;
      w[GADDR_HIGH] = 0;
      w[FLAGS_LOW] = flags;
      w[FLAGS_HIGH] = 0;
    } else {
      setU64(w, GADDR, gaddr);
      setU64(w, FLAGS, flags);
    }
    w[SIZE] = req.size;
    w[OP] = op;
    // The union at byte 32: SIDA ops read sida_offset there, every other op the bytes ar and
    // key followed by zeros (as one host-order word: ar is its byte 0).
    w[UNION] = op === SIDA_READ || op === SIDA_WRITE ? req.sidaOffset : LE ? req.ar | (req.key << 8) : ((req.ar << 24) | (req.key << 16)) >>> 0;
    w[UNION + 1] = 0;
    return this.bytes;
  }
}

/**
 * A channel's memory as the addon lays it out (native/kvm.h ChannelShared; abi() reports it):
 * the descriptor, then the last call's result as an int32 and a reserved int32.
 */
export const CHANNEL_LAYOUT = { size: STRUCT_SIZE.kvm_s390_mem_op + 8, resultOffset: STRUCT_SIZE.kvm_s390_mem_op } as const;

/** KVM_S390_MEM_OP on one fd through the addon's channel: the descriptor filled in place, then one call. */
export class MemOpChannel {
  readonly #descriptor: MemOpDescriptor;
  readonly #result: Int32Array;
  readonly #id: number;
  /**
   * addon.channelMemop, read once: the addon's exports object is in V8's dictionary mode, so
   * reading the function from it on every call was a full property lookup.
   */
  readonly #call: NativeAddon['channelMemop'];

  constructor(addon: NativeAddon, fd: number) {
    const channel = addon.createMemOpChannel(fd);
    this.#descriptor = new MemOpDescriptor(new Uint8Array(channel.shared, 0, STRUCT_SIZE.kvm_s390_mem_op));
    this.#result = new Int32Array(channel.shared, CHANNEL_LAYOUT.resultOffset, 1);
    this.#id = channel.id;
    this.#call = addon.channelMemop;
  }

  /** 0, a positive program-interruption code, or -errno. */
  memop(req: MemOpRequest): number {
    this.#descriptor.fill(req);
    // Without `old` the addon has one argument less to look at.
    if (req.old === null) this.#call(this.#id, req.buf);
    else this.#call(this.#id, req.buf, req.old);
    return this.#result[0]!;
  }
}
