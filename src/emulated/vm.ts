// An emulated VM: one memslot of sparse absolute storage at 0, its storage keys, the guest
// facilities that change translation, and the profile of kernel behaviour it reproduces.
import { CAP, ERRNO } from '../abi/constants.js';
import type { GuestFacilities, MemOpRequest, VcpuHandle, VcpuOptions, VmHandle, VmOptions } from '../contract.js';
import { KvmError, type AccessFault } from '../errors.js';
import { vmMemop, type AbsoluteMachine } from './absolute-memop.js';
import { FaultRecorder } from './faults.js';
import type { ProfileSwitches } from './profiles.js';
import { AbsoluteStorage } from './storage.js';
import { getStorageKeys, keyop, setStorageKeys } from './storage-key-ops.js';
import { StorageKeys, type KeyUsage } from './storage-keys.js';
import { EmulatedVcpu } from './vcpu.js';

/** KVM_MAX_VCPUS on s390 (sca extended). */
const MAX_VCPU_ID = 247;

type ModelledFacilities = Pick<GuestFacilities, 'edat1' | 'edat2'>;

export class EmulatedVm implements VmHandle, AbsoluteMachine {
  readonly storage: AbsoluteStorage;
  readonly keys: StorageKeys;
  readonly switches: ProfileSwitches;
  readonly faults = new FaultRecorder();
  /** Read on every logical memop: the plain pair, without the list. */
  readonly facilities: ModelledFacilities;
  readonly #checkExtension: (cap: number) => number;
  /** Every id ever created: the kernel keeps a closed vcpu until the VM goes (EEXIST). */
  readonly #vcpuIds = new Set<number>();
  #openVcpus = 0;
  #closed = false;

  constructor(opts: VmOptions, switches: ProfileSwitches, checkExtension: (cap: number) => number, keyUsage: KeyUsage) {
    this.storage = new AbsoluteStorage(Number(opts.memorySize));
    this.keys = new StorageKeys(keyUsage, switches.firstAccessWithoutKeysMarksChange);
    this.switches = switches;
    this.#checkExtension = checkExtension;
    this.facilities = {
      edat1: opts.facilities?.edat1 ?? true,
      edat2: (opts.facilities?.edat1 ?? true) && (opts.facilities?.edat2 ?? true),
    };
  }

  checkExtension(cap: number): number {
    return this.#checkExtension(cap);
  }

  memop(req: MemOpRequest): number {
    return vmMemop(this, req);
  }

  getStorageKeys(startGfn: bigint, count: number, out: Uint8Array, flags: number): number {
    return getStorageKeys(this, startGfn, count, out, flags);
  }

  setStorageKeys(startGfn: bigint, keys: Uint8Array, flags: number): number {
    return setStorageKeys(this, startGfn, keys, flags);
  }

  keyop(operation: number, guestAddr: bigint, key: number): number {
    return keyop(this, operation, guestAddr, key);
  }

  guestFacilities(): GuestFacilities {
    return { ...this.facilities, installed: null };
  }

  createVcpu(id: number, opts: VcpuOptions): VcpuHandle {
    if (id < 0 || id > MAX_VCPU_ID) throw new KvmError(ERRNO.EINVAL, 'KVM_CREATE_VCPU', `vcpu id ${id} is above ${MAX_VCPU_ID}`);
    if (this.#vcpuIds.has(id)) {
      throw new KvmError(ERRNO.EEXIST, 'KVM_CREATE_VCPU', `vcpu ${id} already exists (a closed vcpu lives until its VM is closed)`);
    }
    if (opts.protected && this.#checkExtension(CAP.S390_PROTECTED) === 0) {
      throw new KvmError(ERRNO.EINVAL, 'KVM_CREATE_VCPU', 'protected vcpus need KVM_CAP_S390_PROTECTED');
    }
    const vcpu = new EmulatedVcpu(this, id, opts, () => {
      this.#openVcpus--;
      this.#releaseStorageWhenUnused();
    });
    this.#vcpuIds.add(id);
    this.#openVcpus++;
    return vcpu;
  }

  lastFault(): AccessFault | null {
    return this.faults.last;
  }

  /** As on the kvm backend, an open vcpu keeps the guest memory until it is closed too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseStorageWhenUnused();
  }

  #releaseStorageWhenUnused(): void {
    // Keys cost one byte per touched 4 KiB page; the storage is what must go.
    if (this.#closed && this.#openVcpus === 0) this.storage.release();
  }
}
