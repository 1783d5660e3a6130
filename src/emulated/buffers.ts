// Where the model touches a caller's buffers: they must still hold what the argument check
// saw. Nothing between that check and the copy runs the caller's code through the public API,
// but a handle can be driven directly, and a buffer detached or shrunk in between must fail
// as it does on the kvm backend (the addon throws the same ERR_BUFFER_OUT_OF_BOUNDS), never
// copy zeros or fewer bytes.
import { CMPXCHG_MAX_SIZE } from '../abi/constants.js';
import type { MemOpRequest } from '../contract.js';
import { bufferOutOfBounds } from '../errors.js';
import { byteLengthOf } from '../typed-arrays.js';

export function checkBuffersHold(req: MemOpRequest): void {
  const { buf, old, size } = req;
  if (buf !== null) {
    const holds = byteLengthOf(buf);
    if (holds < size) throw bufferOutOfBounds('descriptor.buf', holds, size);
  }
  if (old !== null) {
    // The kernel reads at most 16 bytes at old_addr (larger sizes are refused first).
    const needed = size < CMPXCHG_MAX_SIZE ? size : CMPXCHG_MAX_SIZE;
    const holds = byteLengthOf(old);
    if (holds < needed) throw bufferOutOfBounds('descriptor.old', holds, needed);
  }
}
