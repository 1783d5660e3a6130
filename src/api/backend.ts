// openBackend and the public Backend: picks a backend handle and wraps it.
import type { BackendHandle, BackendKind, KernelProfile, VmOptions } from '../contract.js';
import { KERNEL_PROFILES } from '../contract.js';
import { EmulatedBackend } from '../emulated/backend.js';
import { ArgumentRangeError, ArgumentTypeError, KvmError } from '../errors.js';
import { openKvmBackend } from '../kvm/backend.js';
import { checkInteger, checkOptionalBoolean, checkOptions, checkU64, readOption } from './arguments.js';
import { Closable } from './handle-guard.js';
import { Vm } from './vm.js';

/** The environment variable that picks the backend when `openBackend()` is given no `kind`. */
export const BACKEND_ENV = 'KVM_S390_BACKEND';
/** The environment variable that picks the emulated profile when `openBackend()` is given none. */
export const PROFILE_ENV = 'KVM_S390_PROFILE';

/**
 * What `openBackend` opens.
 *
 * @example
 * ```ts
 * const opts: OpenBackendOptions = { kind: 'emulated', profile: 'classic' };
 * const backend = openBackend(opts);
 * ```
 */
export interface OpenBackendOptions {
  /**
   * 'auto': real KVM when usable, else emulated. Default: `$KVM_S390_BACKEND`
   * (`emulated`, `kvm` or `auto`), else 'auto'.
   */
  kind?: 'auto' | BackendKind;
  /**
   * Kernel behaviour the emulated backend reproduces. Default: `$KVM_S390_PROFILE`, else
   * 'newest'. Real KVM ignores it (its profile is inferred from the capabilities).
   */
  profile?: KernelProfile;
  /**
   * The emulated machine's facilities, which every VM inherits (a VM can only drop more with
   * createVm's `facilities`); default: both. Set them from a real VM's `facilities` to model
   * that machine, e.g. `{ edat2: false }` for one without EDAT-2. Real KVM ignores it.
   */
  machine?: {
    /** Facility 8, enhanced DAT 1; default present. */
    edat1?: boolean;
    /** Facility 78, enhanced DAT 2; default present (needs EDAT-1). */
    edat2?: boolean;
  };
}

/**
 * The VM `Backend.createVm` creates.
 *
 * @example
 * ```ts
 * const vm = backend.createVm({ memorySize: 64 << 20, facilities: { edat2: false } });
 * ```
 */
export interface CreateVmOptions {
  /** Bytes of guest memory at absolute 0: a positive multiple of 1 MiB. */
  memorySize: number | bigint;
  /** Guest facilities EDAT-1 (8) and EDAT-2 (78); both present by default. */
  facilities?: {
    /** Facility 8, enhanced DAT 1: 1 MiB frames in segment-table entries. */
    edat1?: boolean;
    /** Facility 78, enhanced DAT 2: 2 GiB frames in region-third-table entries (needs EDAT-1). */
    edat2?: boolean;
  };
}

/**
 * An open backend: real KVM (`/dev/kvm`) or the emulated kernel. Create it with
 * `openBackend`; close it when done (or `using`). Closing it leaves VMs it created usable, as
 * closing `/dev/kvm` does.
 *
 * @example
 * ```ts
 * const backend = openBackend();
 * try {
 *   console.log(backend.kind, backend.profile, backend.reason);
 * } finally {
 *   backend.close();
 * }
 * ```
 */
export class Backend extends Closable {
  readonly #handle: BackendHandle;

  /** @internal */
  constructor(handle: BackendHandle) {
    super();
    this.#handle = handle;
  }

  /** 'kvm' or 'emulated'. */
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

  /**
   * KVM_CHECK_EXTENSION on /dev/kvm.
   *
   * @param cap - A capability number, e.g. `CAP.S390_MEM_OP` (108).
   * @returns The kernel's answer: 0 when absent, else the capability's value (108 answers the
   *   largest memop size, 65536).
   * @throws {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError}
   *   `ERR_OUT_OF_RANGE` for a cap that is not a u32; {@link KvmError} `EBADF` after `close()`.
   */
  checkExtension(cap: number): number {
    const c = checkInteger(cap, 'cap', 0, 0xffff_ffff);
    this.assertOpen('KVM_CHECK_EXTENSION');
    return this.#handle.checkExtension(c);
  }

  /**
   * KVM_CREATE_VM and one memslot of `memorySize` bytes at absolute 0.
   *
   * @param opts - The memory size (a multiple of 1 MiB) and guest facilities.
   * @returns The new VM; close it when done.
   * @throws {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` without options, for facilities
   *   that are not booleans or options that cannot be read; {@link ArgumentRangeError}
   *   `ERR_OUT_OF_RANGE` for a size that is not a u64; {@link KvmError} `EINVAL` for a size that
   *   is 0 or not a multiple of 1 MiB, `ENOMEM` when the host cannot provide it, `EBADF` after
   *   `close()`.
   */
  createVm(opts: CreateVmOptions): Vm {
    if (typeof opts !== 'object' || opts === null) throw new ArgumentTypeError('The "options" argument must be an object: createVm needs { memorySize }');
    const memorySizeValue = readOption(opts, 'memorySize');
    const facilitiesValue = readOption(opts, 'facilities');
    const memorySize = checkU64(memorySizeValue, 'memorySize');
    const facilities = checkFacilities(facilitiesValue);
    this.assertOpen('KVM_CREATE_VM');
    const model = { profile: this.#handle.profile, likely: this.#handle.kind === 'kvm' };
    return new Vm(this.#handle.createVm({ memorySize, facilities }), memorySize, model);
  }

  /**
   * Closes the backend (idempotent); later calls on it throw `EBADF`.
   *
   * @throws Nothing.
   */
  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  /**
   * `close()`, for `using`.
   *
   * @throws Nothing.
   */
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

function fromEnvironment(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The emulated machine's facilities (`openBackend({ machine })`), each field read once. */
function machineFacilities(machine: unknown): { edat1: boolean; edat2: boolean } {
  if (machine === undefined) return { edat1: true, edat2: true };
  if (typeof machine !== 'object' || machine === null) throw new ArgumentTypeError('The "machine" option must be an object like { edat1, edat2 }');
  const edat1 = checkOptionalBoolean(readOption(machine, 'edat1', 'machine'), 'machine.edat1');
  const edat2 = checkOptionalBoolean(readOption(machine, 'edat2', 'machine'), 'machine.edat2');
  return { edat1: edat1 !== false, edat2: edat1 !== false && edat2 !== false };
}

function checkProfile(profile: unknown): KernelProfile {
  const given = profile ?? fromEnvironment(PROFILE_ENV);
  if (given === undefined) return 'newest';
  if (typeof given !== 'string' || !(KERNEL_PROFILES as readonly string[]).includes(given)) {
    const source = profile === undefined ? `$${PROFILE_ENV}` : 'profile';
    throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `${source} must be one of ${KERNEL_PROFILES.join(', ')}; got ${JSON.stringify(given)}`);
  }
  return given as KernelProfile;
}

/**
 * Opens a backend: real KVM when usable, else the emulated kernel (kind 'auto'), or the kind
 * asked for. Without `kind`, `$KVM_S390_BACKEND` decides (`emulated`, `kvm` or `auto`);
 * without `profile`, `$KVM_S390_PROFILE` (else 'newest').
 *
 * @param opts - The kind and the emulated kernel profile.
 * @returns The backend; `backend.reason` says why this one.
 * @throws {@link KvmError} for kind 'kvm' when real KVM is unusable, with the reason and what
 *   to do (`ENOENT` no /dev/kvm or no addon, `EACCES` not in the kvm group, `ENODEV` not s390x,
 *   `ENOSYS` not Linux or under qemu-user); {@link ArgumentRangeError} `ERR_INVALID_ARG_VALUE`
 *   for an unknown kind or profile (also from the environment variables);
 *   {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` for options that are not an object or
 *   whose properties cannot be read.
 * @example
 * ```ts
 * const backend = openBackend({ kind: 'emulated', profile: 'v5.18' });
 * const vm = backend.createVm({ memorySize: 16 << 20 });
 * ```
 */
export function openBackend(opts?: OpenBackendOptions): Backend {
  // Each option read once: a getter cannot answer one thing to the check and another later.
  const options = checkOptions(opts);
  const kindValue = readOption(options, 'kind');
  const profile = checkProfile(readOption(options, 'profile'));
  const machineValue = readOption(options, 'machine');
  const kind = kindValue ?? fromEnvironment(BACKEND_ENV) ?? 'auto';
  switch (kind) {
    case 'emulated':
      return new Backend(new EmulatedBackend(profile, kindValue === undefined ? `${BACKEND_ENV}=emulated` : 'requested explicitly', machineFacilities(machineValue)));
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
      throw new ArgumentRangeError(
        'ERR_INVALID_ARG_VALUE',
        `${kindValue === undefined ? `$${BACKEND_ENV}` : 'kind'} must be 'auto', 'kvm' or 'emulated'; got ${JSON.stringify(kind)}`,
      );
  }
}
