// SIDA_READ / SIDA_WRITE (docs/memop-semantics.md §7): only a protected vcpu has a secure-instruction data area.
import { ERRNO, MEMOP, PAGE_SIZE } from '../abi/constants.js';
import { hasFlagsOutside } from '../abi/flags.js';
import type { MemOpRequest } from '../contract.js';
import type { EmulatedVcpu } from './vcpu.js';
import { copyBytes } from './bytes.js';

const U32_LIMIT = 0x1_0000_0000;

export function sidaMemop(vcpu: EmulatedVcpu, req: MemOpRequest): number {
  if (hasFlagsOutside(req.flags, 0) || req.size === 0) return -ERRNO.EINVAL;
  const end = req.size + req.sidaOffset;
  if (end >= U32_LIMIT) return -ERRNO.EINVAL;
  // A vcpu that is not protected has a zero SIDA-size field, which reads as one page.
  const sidaSize = vcpu.sida === null ? PAGE_SIZE : vcpu.sida.length;
  if (end > sidaSize) return -ERRNO.E2BIG;
  if (vcpu.sida === null) return -ERRNO.EINVAL;
  if (req.buf === null) return -ERRNO.EFAULT;
  if (req.op === MEMOP.SIDA_READ) copyBytes(req.buf, 0, vcpu.sida, req.sidaOffset, req.size);
  else copyBytes(vcpu.sida, req.sidaOffset, req.buf, 0, req.size);
  return 0;
}
