// LOGICAL_READ / LOGICAL_WRITE through a vcpu (spec §4, §8). Being written (issue 3).
import { ERRNO } from '../abi/constants.js';
import type { MemOpRequest } from '../contract.js';
import type { EmulatedVcpu } from './vcpu.js';

export function logicalMemop(_vcpu: EmulatedVcpu, _req: MemOpRequest): number {
  return -ERRNO.ENOSYS;
}
