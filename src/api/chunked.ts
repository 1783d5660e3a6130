// Accesses above one KVM_S390_MEM_OP's limit (KVM_CAP_S390_MEM_OP, 65536 bytes on every
// kernel) split into consecutive memops, as a VMM does. Semantics of a refusal mid-way
// (also in README "Use" and Vm.read): the chunks before the refused one are done
// completely; the refused chunk behaves as one memop (a write has stored the pages before
// the refused page, a read delivers nothing of it); nothing after it is attempted.
import { MEM_OP_MAX_SIZE } from '../abi/constants.js';

export interface RefusedChunk {
  /** The positive program-interruption code of the refused chunk. */
  readonly code: number;
  /** Offset of the refused chunk inside the access: the bytes before it were transferred. */
  readonly offset: number;
  readonly size: number;
}

/** The guest address `offset` bytes into an access at `gaddr`, wrapping at 2^64 as the kernel does. */
export function chunkAddress(gaddr: bigint, offset: number): bigint {
  return BigInt.asUintN(64, gaddr + BigInt(offset));
}

/** Runs `access(offset, size)` chunk by chunk; the first chunk that answers non-zero, or null. */
export function splitAccess(total: number, access: (offset: number, size: number) => number): RefusedChunk | null {
  for (let offset = 0; offset < total; offset += MEM_OP_MAX_SIZE) {
    const size = Math.min(MEM_OP_MAX_SIZE, total - offset);
    const code = access(offset, size);
    if (code !== 0) return { code, offset, size };
  }
  return null;
}
