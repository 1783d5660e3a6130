// The emulated backend: answers capabilities per profile and creates emulated VMs.
import { CAP, ERRNO, MEMSLOT_ALIGNMENT, MEM_OP_MAX_SIZE } from '../abi/constants.js';
import type { BackendHandle, KernelProfile, VmHandle, VmOptions } from '../contract.js';
import { KvmError } from '../errors.js';
import { PROFILES, type ProfileSwitches } from './profiles.js';
import { EmulatedVm } from './vm.js';

/** Largest guest the model accepts: absolute addresses stay exact JS numbers. */
export const MAX_EMULATED_MEMORY = 2 ** 52;

export function emulatedCapability(switches: ProfileSwitches, cap: number): number {
  switch (cap) {
    case CAP.S390_MEM_OP:
      return MEM_OP_MAX_SIZE;
    case CAP.S390_MEM_OP_EXTENSION:
      return switches.memopExtension;
    case CAP.S390_KEYOP:
      return switches.keyop ? 1 : 0;
    case CAP.S390_PSW:
    case CAP.SYNC_REGS:
    case CAP.S390_SKEYS:
    case CAP.S390_INJECT_IRQ:
    case CAP.S390_IRQ_STATE:
    case CAP.S390_VCPU_RESETS:
    case CAP.S390_PROTECTED:
      return 1;
    default:
      return 0;
  }
}

export class EmulatedBackend implements BackendHandle {
  readonly kind = 'emulated' as const;
  readonly profile: KernelProfile;
  readonly reason: string;
  readonly #switches: ProfileSwitches;
  /** An emulated backend stands for one host process: its process-wide key-use flag. */
  readonly #processKeyUsage = { enabled: false };

  /** The machine's facilities, which bound every VM's. */
  readonly #machine: { readonly edat1: boolean; readonly edat2: boolean };

  constructor(profile: KernelProfile, reason: string, machine = { edat1: true, edat2: true }) {
    this.profile = profile;
    this.reason = reason;
    this.#switches = PROFILES[profile];
    this.#machine = machine;
  }

  checkExtension(cap: number): number {
    return emulatedCapability(this.#switches, cap);
  }

  createVm(opts: VmOptions): VmHandle {
    const size = opts.memorySize;
    if (size <= 0n || size % BigInt(MEMSLOT_ALIGNMENT) !== 0n) {
      throw new KvmError(ERRNO.EINVAL, 'KVM_SET_USER_MEMORY_REGION', 'memory size must be a positive multiple of 1 MiB');
    }
    if (size > BigInt(MAX_EMULATED_MEMORY)) {
      throw new KvmError(ERRNO.ENOMEM, 'KVM_SET_USER_MEMORY_REGION', `the emulator models at most 4 PiB of guest memory`);
    }
    const keyUsage = this.#switches.keyUsePerProcess ? this.#processKeyUsage : { enabled: false };
    const asked = opts.facilities;
    const facilities = { edat1: (asked?.edat1 ?? true) && this.#machine.edat1, edat2: (asked?.edat2 ?? true) && this.#machine.edat2 };
    return new EmulatedVm({ ...opts, facilities }, this.#switches, (cap) => this.checkExtension(cap), keyUsage);
  }

  close(): void {}
}
