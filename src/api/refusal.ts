// Errno results turned into KvmError with the rule that refused the call: known on the
// emulated backend (it refuses by exactly these rules), likely on real KVM (the kernel says
// only the errno; the model of the host's inferred profile names the rule).
import type { KernelProfile, MemOpRequest } from '../contract.js';
import { KvmError } from '../errors.js';
import { keyopRefusalReason, memopRefusalReason, skeysRefusalReason, unexplainedRefusal, type MemOpTarget } from '../emulated/refusals.js';

/** What a Vm or Vcpu knows to explain an errno. */
export interface RefusalModel {
  readonly profile: KernelProfile;
  /** Real KVM: the reason is the model's best guess. */
  readonly likely: boolean;
  /** Bytes of guest memory of the VM, when known. */
  readonly memorySize?: bigint;
}

/** For a Vm built over a bare handle (tests): the newest kernel's rules, as a guess. */
export const GUESSED_MODEL: RefusalModel = { profile: 'newest', likely: true };

export function memopRefused(model: RefusalModel, target: MemOpTarget, req: MemOpRequest, errno: number): KvmError {
  const reason = memopRefusalReason(target, req, errno) ?? unexplainedRefusal(model.profile, errno);
  return new KvmError(errno, 'KVM_S390_MEM_OP', reason, { likely: model.likely });
}

export function skeysRefused(
  model: RefusalModel,
  call: 'get' | 'set',
  args: { startGfn: bigint; count: number; flags: number; keys?: Uint8Array },
  errno: number,
): KvmError {
  const reason = skeysRefusalReason(call, { ...args, memorySize: model.memorySize }, errno) ?? unexplainedRefusal(model.profile, errno);
  return new KvmError(errno, call === 'get' ? 'KVM_S390_GET_SKEYS' : 'KVM_S390_SET_SKEYS', reason, { likely: model.likely });
}

export function keyopRefused(model: RefusalModel, operation: number, guestAddr: bigint, errno: number): KvmError {
  const reason = keyopRefusalReason(model.profile, operation, guestAddr, model.memorySize, errno) ?? unexplainedRefusal(model.profile, errno);
  return new KvmError(errno, 'KVM_S390_KEYOP', reason, { likely: model.likely });
}
