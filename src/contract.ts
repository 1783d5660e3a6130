// The contract every backend implements. The public Backend/Vm/Vcpu (src/api) sit on top of it
// once, for all backends: they check arguments, turn -errno into KvmError and build the
// ergonomic helpers. A handle therefore receives only checked requests and answers exactly
// what the kernel's ioctl would return.
import type { Flags64 } from './abi/flags.js';
import type { AccessFault } from './errors.js';

/**
 * Which backend: real KVM or the emulated kernel.
 *
 * @example
 * ```ts
 * const kind: BackendKind = openBackend().kind;
 * ```
 */
export type BackendKind = 'kvm' | 'emulated';

/**
 * Kernel behaviour to reproduce (docs/memop-semantics.md §0.1, §13):
 * - 'newest'   torvalds tree after the gmap rewrite (KEYOP present)
 * - 'classic'  v6.12 up to the rewrite (cmpxchg, memslot pre-check on absolute ops)
 * - 'v6.3'     6.3–6.11: classic before the 6.12 memslot check of access-register tables
 * - 'v5.18'    5.18–6.2: storage-key memops, no cmpxchg, older validation order
 * - 'pre-5.18' 5.7–5.17: logical memops and SIDA only, no keys, no vm-fd memop
 *
 * @example
 * ```ts
 * const backend = openBackend({ kind: 'emulated', profile: 'classic' satisfies KernelProfile });
 * ```
 */
export type KernelProfile = 'newest' | 'classic' | 'v6.3' | 'v5.18' | 'pre-5.18';
/**
 * Every kernel profile, newest first.
 *
 * @example
 * ```ts
 * for (const profile of KERNEL_PROFILES) openBackend({ kind: 'emulated', profile }).close();
 * ```
 */
export const KERNEL_PROFILES: readonly KernelProfile[] = ['newest', 'classic', 'v6.3', 'v5.18', 'pre-5.18'];

/**
 * A `struct kvm_s390_mem_op` after argument checking: every number fits its field, `buf` and
 * `old` are at least `size` bytes long when present. `null` stands for a NULL user pointer.
 */
export interface MemOpRequest {
  op: number; // u32
  /** u64: a number when below 2^53 (no BigInt work on hot paths), else a bigint. */
  gaddr: number | bigint;
  size: number; // u32
  flags: Flags64; // u64
  buf: Uint8Array | null;
  key: number; // u8
  ar: number; // u8
  /** u32 union over ar/key/pad; only SIDA ops read it. */
  sidaOffset: number;
  old: Uint8Array | null;
}

export interface VmOptions {
  /** Bytes of guest memory in one memslot at absolute 0; a multiple of 1 MiB. */
  memorySize: bigint;
  /** Guest CPU facilities that change translation (docs/memop-semantics.md §8.6). Default: both present. */
  facilities?: { edat1?: boolean; edat2?: boolean };
}

/**
 * The guest CPU facilities that change what a memop does, as the VM really has them.
 *
 * @example
 * ```ts
 * if (!vm.facilities.edat2) console.log('no 2 GiB frames on this machine');
 * ```
 */
export interface GuestFacilities {
  /** Facility 8, enhanced DAT 1: 1 MiB segment frames. */
  readonly edat1: boolean;
  /** Facility 78, enhanced DAT 2: 2 GiB region-third frames. */
  readonly edat2: boolean;
  /**
   * Every facility number of the VM's CPU model (kvm: KVM_S390_VM_CPU_PROCESSOR's list, which
   * is the host machine's as filtered by KVM), or null where the backend models only the two
   * above.
   */
  readonly installed: readonly number[] | null;
}

export interface VcpuOptions {
  /** Emulated only: a protected-virtualization vcpu whose SIDA can be read and written. */
  protected?: boolean;
  /** Emulated only: SIDA size in 4 KiB pages (1..256) of a protected vcpu. Default 1. */
  sidaPages?: number;
}

/**
 * A program-status word: the mask (DAT, address-space control, addressing mode, key) and the
 * instruction address.
 *
 * @example
 * ```ts
 * const psw: Psw = { mask: 0x0400000180000000n, addr: 0n }; // DAT on, 64-bit
 * ```
 */
export interface Psw {
  /** The PSW's first doubleword. */
  mask: bigint;
  /** The instruction address. */
  addr: bigint;
}

/**
 * The vcpu state a memop uses (docs/memop-semantics.md §8, §11).
 *
 * @example
 * ```ts
 * const { psw, cr, ar, prefix } = vcpu.getState();
 * ```
 */
export interface VcpuState {
  /** The program-status word. */
  psw: Psw;
  /** CR0..CR15. */
  cr: bigint[];
  /** AR0..AR15 (u32 each). */
  ar: number[];
  /** Prefix register (8 KiB aligned). */
  prefix: number;
}

/**
 * The parts of the vcpu state to change with `Vcpu.setState`; absent parts stay.
 *
 * @example
 * ```ts
 * vcpu.setState({ prefix: 0x10000 });
 * ```
 */
export interface VcpuStateUpdate {
  /** The program-status word. */
  psw?: Psw;
  /** CR0..CR15, all 16. */
  cr?: readonly bigint[];
  /** AR0..AR15, all 16 (u32 each). */
  ar?: readonly number[];
  /** Prefix register (8 KiB aligned). */
  prefix?: number;
}

/**
 * A vcpu reset: 'initial' (KVM_S390_INITIAL_RESET) or 'clear' (KVM_S390_CLEAR_RESET).
 *
 * @example
 * ```ts
 * vcpu.reset('initial' satisfies ResetKind);
 * ```
 */
export type ResetKind = 'initial' | 'clear';

/**
 * A queued program interrupt as the kernel would deliver it (docs/memop-semantics.md §8.9).
 *
 * @example
 * ```ts
 * const pending: ProgramInterrupt | null = vcpu.pendingProgramInterrupt();
 * ```
 */
export interface ProgramInterrupt {
  /** The program-interruption code. */
  code: number;
  /** Translation-exception identification (trans_exc_code). */
  teid: bigint;
  /** Exception access id (the access register number). */
  accessId: number;
}

/** What a backend can do on the host: opened once, creates VMs. */
export interface BackendHandle {
  readonly kind: BackendKind;
  /** The profile modelled (emulated) or inferred from the capabilities (kvm). */
  readonly profile: KernelProfile;
  /** Why this backend was chosen (shown by `probe`). */
  readonly reason: string;
  /** KVM_CHECK_EXTENSION on /dev/kvm. Never negative. */
  checkExtension(cap: number): number;
  /** KVM_CREATE_VM + one memslot. Throws KvmError on failure. */
  createVm(opts: VmOptions): VmHandle;
  close(): void;
}

export interface VmHandle {
  /** KVM_CHECK_EXTENSION on the vm fd. */
  checkExtension(cap: number): number;
  /** KVM_S390_MEM_OP on the vm fd: 0, a positive program code, or -errno. */
  memop(req: MemOpRequest): number;
  /**
   * KVM_S390_GET_SKEYS of `count` keys into `out` (at least `count` bytes whenever
   * 1 ≤ count ≤ SKEYS_MAX; may be empty otherwise, the kernel refuses such a count):
   * 0, GET_SKEYS_NONE (1) or -errno. `out` is written only on 0.
   */
  getStorageKeys(startGfn: bigint, count: number, out: Uint8Array, flags: number): number;
  /** KVM_S390_SET_SKEYS: 0 or -errno. */
  setStorageKeys(startGfn: bigint, keys: Uint8Array, flags: number): number;
  /**
   * KVM_S390_KEYOP (`operation` and `key` are u8): the key byte the kernel writes back
   * (0..255), or -errno (ENOTTY where the kernel has no such ioctl).
   */
  keyop(operation: number, guestAddr: bigint, key: number): number;
  /** KVM_CREATE_VCPU. Throws KvmError on failure. */
  createVcpu(id: number, opts: VcpuOptions): VcpuHandle;
  /** The guest CPU's facilities (the kvm backend reads the VM's CPU model). */
  guestFacilities(): GuestFacilities;
  /** Why the last memop returned a positive code, when the backend knows; else null. */
  lastFault(): AccessFault | null;
  close(): void;
}

export interface VcpuHandle {
  readonly id: number;
  /** KVM_S390_MEM_OP on the vcpu fd: 0, a positive program code, or -errno. */
  memop(req: MemOpRequest): number;
  getState(): VcpuState;
  /** Takes effect for the very next memop (the kvm backend commits it with a KVM_RUN). */
  setState(update: VcpuStateUpdate): void;
  reset(kind: ResetKind): void;
  pendingProgramInterrupt(): ProgramInterrupt | null;
  clearPendingInterrupts(): void;
  lastFault(): AccessFault | null;
  close(): void;
}
