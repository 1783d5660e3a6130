// openBackend and the public Backend: picks a backend handle and wraps it.
import type { BackendHandle, BackendKind, KernelProfile, VmOptions } from '../contract.js';
import { KERNEL_PROFILES } from '../contract.js';
import { EmulatedBackend } from '../emulated/backend.js';
import { ArgumentRangeError, ArgumentTypeError, KvmError } from '../errors.js';
import { openKvmBackend } from '../kvm/backend.js';
import { checkInteger, checkOptionalBoolean, checkOptions, checkU64, readOption } from './arguments.js';
import { Closable } from './handle-guard.js';
import { Vm } from './vm.js';

export interface OpenBackendOptions {
  /** 'auto' (default): real KVM when usable, else emulated. */
  kind?: 'auto' | BackendKind;
  /** Kernel behaviour the emulated backend reproduces; default 'newest'. Real KVM ignores it. */
  profile?: KernelProfile;
  /**
   * The emulated machine's facilities, which every VM inherits (a VM can only drop more with
   * createVm's `facilities`); default: both. Set them from a real VM's `facilities` to model
   * that machine, e.g. `{ edat2: false }` for one without EDAT-2. Real KVM ignores it.
   */
  machine?: { edat1?: boolean; edat2?: boolean };
}

export interface CreateVmOptions {
  /** Bytes of guest memory at absolute 0: a positive multiple of 1 MiB. */
  memorySize: number | bigint;
  /** Guest facilities EDAT-1 (8) and EDAT-2 (78); both present by default. */
  facilities?: { edat1?: boolean; edat2?: boolean };
}

export class Backend extends Closable {
  readonly #handle: BackendHandle;

  /** @internal */
  constructor(handle: BackendHandle) {
    super();
    this.#handle = handle;
  }

  get kind(): BackendKind {
    return this.#handle.kind;
  }

  /** The kernel profile modelled (emulated) or inferred from the host's capabilities (kvm). */
  get profile(): KernelProfile {
    return this.#handle.profile;
  }

  /** Why this backend was chosen. */
  get reason(): string {
    return this.#handle.reason;
  }

  /** KVM_CHECK_EXTENSION on /dev/kvm. */
  checkExtension(cap: number): number {
    const c = checkInteger(cap, 'cap', 0, 0xffff_ffff);
    this.assertOpen('KVM_CHECK_EXTENSION');
    return this.#handle.checkExtension(c);
  }

  createVm(opts: CreateVmOptions): Vm {
    if (typeof opts !== 'object' || opts === null) throw new ArgumentTypeError('The "options" argument must be an object: createVm needs { memorySize }');
    const memorySizeValue = readOption(opts, 'memorySize');
    const facilitiesValue = readOption(opts, 'facilities');
    const memorySize = checkU64(memorySizeValue, 'memorySize');
    const facilities = checkFacilities(facilitiesValue);
    this.assertOpen('KVM_CREATE_VM');
    return new Vm(this.#handle.createVm({ memorySize, facilities }), memorySize);
  }

  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** `facilities`: absent, or an object whose edat1/edat2 are absent or booleans (absent = present). */
function checkFacilities(value: unknown): VmOptions['facilities'] {
  if (value === undefined) return undefined;
  const facilities = checkOptions(value, 'facilities');
  const edat1 = checkOptionalBoolean(readOption(facilities, 'edat1', 'facilities'), 'facilities.edat1');
  const edat2 = checkOptionalBoolean(readOption(facilities, 'edat2', 'facilities'), 'facilities.edat2');
  return { edat1: edat1 !== false, edat2: edat2 !== false };
}

function checkProfile(profile: unknown): KernelProfile {
  if (profile === undefined) return 'newest';
  if (typeof profile !== 'string' || !(KERNEL_PROFILES as readonly string[]).includes(profile)) {
    throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `profile must be one of ${KERNEL_PROFILES.join(', ')}`);
  }
  return profile as KernelProfile;
}

/** The emulated machine's facilities (`openBackend({ machine })`), each field read once. */
function machineFacilities(machine: unknown): { edat1: boolean; edat2: boolean } {
  if (machine === undefined) return { edat1: true, edat2: true };
  if (typeof machine !== 'object' || machine === null) throw new ArgumentTypeError('The "machine" option must be an object like { edat1, edat2 }');
  const edat1 = checkOptionalBoolean(readOption(machine, 'edat1', 'machine'), 'machine.edat1');
  const edat2 = checkOptionalBoolean(readOption(machine, 'edat2', 'machine'), 'machine.edat2');
  return { edat1: edat1 !== false, edat2: edat1 !== false && edat2 !== false };
}

export function openBackend(opts?: OpenBackendOptions): Backend {
  const options = checkOptions(opts);
  const kindValue = readOption(options, 'kind');
  const profile = checkProfile(readOption(options, 'profile'));
  const machineValue = readOption(options, 'machine');
  const kind = kindValue ?? 'auto';
  switch (kind) {
    case 'emulated':
      return new Backend(new EmulatedBackend(profile, 'requested explicitly', machineFacilities(machineValue)));
    case 'kvm':
      return new Backend(openKvmBackend());
    case 'auto':
      try {
        return new Backend(openKvmBackend());
      } catch (err) {
        if (!(err instanceof KvmError)) throw err;
        return new Backend(new EmulatedBackend(profile, `real KVM unusable: ${err.message}`, machineFacilities(machineValue)));
      }
    default:
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `kind must be 'auto', 'kvm' or 'emulated'`);
  }
}
