// Placeholder until the native addon lands (issue 4): real KVM is reported unusable.
import type { BackendHandle } from '../contract.js';
import { KvmError } from '../errors.js';
import { ERRNO } from '../abi/constants.js';

export function openKvmBackend(): BackendHandle {
  throw new KvmError(ERRNO.ENOSYS, 'open /dev/kvm', 'the native kvm backend is not built into this version');
}
