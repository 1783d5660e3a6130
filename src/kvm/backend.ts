// The real backend: the contract of src/contract.ts over the native addon and /dev/kvm.
// Handles answer memops and storage-key calls with the kernel's raw result (0, a positive
// program code, or -errno); lifecycle calls throw KvmError. All vcpu ioctls run synchronously
// on the calling thread (KVM wants a vcpu driven by one thread).
import { CAP, CPU_PROCESSOR_FAC_LIST_OFFSET, ERRNO, FACILITY, GET_SKEYS_NONE, KVM_RUN_OFFSET, MEMOP_EXT, MEMSLOT_ALIGNMENT, NUM_ACRS, NUM_CRS, STRUCT_SIZE, SYNC } from '../abi/constants.js';
import os from 'node:os';
import { HOST_BYTE_ORDER, decodeSregs, encodeSregs } from '../abi/structs.js';
import type {
  BackendHandle,
  GuestFacilities,
  KernelProfile,
  MemOpRequest,
  ProgramInterrupt,
  ResetKind,
  VcpuHandle,
  VcpuOptions,
  VcpuState,
  VcpuStateUpdate,
  VmHandle,
  VmOptions,
} from '../contract.js';
import { KvmError, type AccessFault } from '../errors.js';
import { MemOpChannel } from './descriptor.js';
import { AddonLoadError, loadAddon } from './loader.js';
import type { NativeAddon, NativeMapping } from './native.js';

export const KVM_DEVICE = '/dev/kvm';
/** KVM_GET_API_VERSION has answered 12 since Linux 2.6.22. */
const KVM_API_VERSION = 12;
const KVM_EXIT_S390_SIEIC = 13;
/** SIE intercept code of a wait state (the PSW's wait bit), what the commit run must end in. */
const ICPT_WAIT = 0x1c;
/** A commit run interrupted by signals this many times in a row is given up as an error. */
const COMMIT_RUN_ATTEMPTS = 64;
const KVM_S390_PROGRAM_INT = 0xfffe0001n;
const IRQ_RECORD = STRUCT_SIZE.kvm_s390_irq;
const PGM_OFFSET = 8; // the payload union inside struct kvm_s390_irq
const LE = HOST_BYTE_ORDER === 'little';
const { EINTR, ENOBUFS } = ERRNO;
// struct kvm_s390_pgm_info offsets (docs/memop-semantics.md §1.5).
const PGM_TRANS_EXC_CODE = 0;
const PGM_CODE = 28;
const PGM_EXC_ACCESS_ID = 34;

// PSW mask bits (s390 numbering, bit 0 = MSB).
const PSW_PER = 1n << 62n; // bit 1
const PSW_IO = 1n << 57n; // bit 6
const PSW_EXT = 1n << 56n; // bit 7
const PSW_MCHECK = 1n << 50n; // bit 13
const PSW_WAIT = 1n << 49n; // bit 14
/** Bits the commit run forces (wait on; PER, I/O, external, machine-check off). */
const COMMIT_FORCED = PSW_PER | PSW_IO | PSW_EXT | PSW_MCHECK | PSW_WAIT;
const COMMIT_SET = PSW_WAIT;

function fail(errno: number, syscall: string, detail: string): never {
  throw new KvmError(errno, syscall, detail);
}

function check(result: number, syscall: string, detail?: string): number {
  if (result < 0) throw new KvmError(-result, syscall, detail);
  return result;
}

function archNote(): string {
  return process.arch === 's390x'
    ? ''
    : `; besides, this is a ${process.arch} host: KVM_S390_MEM_OP exists only on IBM Z (s390x) Linux, so use the emulated backend here`;
}

/**
 * The kernel profile of a host: capabilities tell the eras apart (docs/memop-semantics.md §0.1, §12); the release
 * tells 6.3–6.11 from 6.12 on, which differ only in how access-register tables outside memory
 * fail and answer every capability alike. A 6.3–6.11 stable kernel that took the 6.12 fix is
 * labelled v6.3 all the same: no capability or release number says so.
 */
export function inferProfile(memopExtension: number, keyop: number, release = os.release()): KernelProfile {
  if (memopExtension <= 0) return 'pre-5.18';
  if ((memopExtension & MEMOP_EXT.CAP_CMPXCHG) === 0) return 'v5.18';
  if (keyop > 0) return 'newest';
  const [major = 0, minor = 0] = release.split(/[.-]/, 2).map(Number);
  return major === 6 && minor < 12 ? 'v6.3' : 'classic';
}

export interface OpenKvmOptions {
  /** The device to open; '/dev/kvm' unless a test points it elsewhere. */
  device?: string;
}

/** Opens real KVM, or throws a KvmError that says why it is unusable and what to do. */
export function openKvmBackend(opts: OpenKvmOptions = {}): BackendHandle {
  const device = opts.device ?? KVM_DEVICE;
  if (process.platform !== 'linux') {
    fail(ERRNO.ENOSYS, `open ${device}`, `KVM is a Linux interface and this is ${process.platform}; use the emulated backend`);
  }
  let addon: NativeAddon;
  try {
    addon = loadAddon();
  } catch (err) {
    if (err instanceof AddonLoadError) fail(err.errno, 'load kvm_s390.node', err.message);
    throw err;
  }
  const fd = addon.openDevice(device);
  if (fd < 0) {
    const errno = -fd;
    if (errno === ERRNO.ENOENT) {
      fail(errno, `open ${device}`, `no ${device} on this host: the kvm kernel module is not loaded (modprobe kvm) or this machine cannot virtualize${archNote()}`);
    }
    if (errno === ERRNO.EACCES || errno === ERRNO.EPERM) {
      fail(errno, `open ${device}`, `permission denied: add this user to the "kvm" group (sudo usermod -aG kvm $USER, then log in again) or run as root${archNote()}`);
    }
    fail(errno, `open ${device}`, `${device} cannot be opened${archNote()}`);
  }
  try {
    const version = addon.getApiVersion(fd);
    if (version === -ERRNO.ENOSYS) {
      fail(ERRNO.ENOSYS, 'KVM_GET_API_VERSION', `${device} answered ENOSYS: this process runs under user-mode emulation (qemu-user), not on a real kernel; real KVM needs a native s390x Linux host`);
    }
    if (version === -ERRNO.ENOTTY || version === -ERRNO.EINVAL) {
      fail(-version, 'KVM_GET_API_VERSION', `${device} is not a KVM device`);
    }
    check(version, 'KVM_GET_API_VERSION');
    if (version !== KVM_API_VERSION) fail(ERRNO.EINVAL, 'KVM_GET_API_VERSION', `KVM API version ${version}, expected ${KVM_API_VERSION}`);
    if (process.arch !== 's390x') {
      fail(ERRNO.ENODEV, 'KVM_CHECK_EXTENSION', `${device} is ${process.arch} KVM: KVM_S390_MEM_OP exists only on IBM Z (s390x) Linux; use the emulated backend here`);
    }
    const maxSize = addon.checkExtension(fd, CAP.S390_MEM_OP);
    if (maxSize <= 0) {
      fail(ERRNO.EOPNOTSUPP, 'KVM_CHECK_EXTENSION', 'the kernel lacks KVM_CAP_S390_MEM_OP (108): Linux 4.3 or newer is needed');
    }
    const ext = Math.max(0, addon.checkExtension(fd, CAP.S390_MEM_OP_EXTENSION));
    const keyop = Math.max(0, addon.checkExtension(fd, CAP.S390_KEYOP));
    const profile = inferProfile(ext, keyop);
    const reason = `real KVM on ${process.arch}: Linux ${os.release()}, API ${version}, KVM_CAP_S390_MEM_OP ${maxSize}, MEM_OP_EXTENSION ${ext}, KEYOP ${keyop} → profile ${profile}`;
    return new KvmBackend(addon, fd, profile, reason);
  } catch (err) {
    addon.close(fd);
    throw err;
  }
}

/**
 * /dev/kvm as the handles use it. VMs that are not closed map their vcpus' kvm_run through it
 * (the addon asks it for the size), so it stays open until the backend handle is closed or
 * forgotten and no VM of it is open: as in the kernel, closing /dev/kvm does not stop a VM.
 */
interface SystemResources {
  readonly addon: NativeAddon;
  readonly fd: number;
  handleOpen: boolean;
  openVms: number;
  fdOpen: boolean;
}

function closeSystemFdWhenUnused(system: SystemResources): void {
  if (system.handleOpen || system.openVms > 0 || !system.fdOpen) return;
  system.fdOpen = false;
  system.addon.close(system.fd);
}

/**
 * What a VM holds in the OS: its fd, its guest memory, and how many vcpu fds still keep it
 * alive in the kernel. Shared by the VM handle and its vcpu handles, and by the finalizers that
 * close whatever a program forgot to close, so that however the handles are closed or
 * collected, the memory is unmapped only after the last fd that lets the kernel reach it
 * through the memslot: a memslot over unmapped (or later reused) host memory would alias it.
 */
interface VmResources {
  /** Null for a VM handle over a caller's fd (vmHandleOverFd). */
  readonly system: SystemResources | null;
  readonly addon: NativeAddon;
  readonly fd: number;
  readonly memory: NativeMapping | null;
  vmFdOpen: boolean;
  openVcpus: number;
}

function releaseMemoryWhenUnreachable(vm: VmResources): void {
  if (!vm.vmFdOpen && vm.openVcpus === 0) vm.memory?.unmap();
}

function closeVmFd(vm: VmResources): void {
  if (!vm.vmFdOpen) return;
  vm.vmFdOpen = false;
  vm.addon.close(vm.fd);
  releaseMemoryWhenUnreachable(vm);
  if (vm.system !== null) {
    vm.system.openVms--;
    closeSystemFdWhenUnused(vm.system);
  }
}

interface VcpuResources {
  readonly vm: VmResources;
  readonly fd: number;
  readonly run: NativeMapping;
  open: boolean;
}

function closeVcpuFd(vcpu: VcpuResources): void {
  if (!vcpu.open) return;
  vcpu.open = false;
  vcpu.run.unmap();
  vcpu.vm.addon.close(vcpu.fd);
  vcpu.vm.openVcpus--;
  releaseMemoryWhenUnreachable(vcpu.vm);
}

/** Closes the fds of handles a program dropped without closing them. */
const forgottenVms = new FinalizationRegistry<VmResources>(closeVmFd);
const forgottenVcpus = new FinalizationRegistry<VcpuResources>(closeVcpuFd);
const forgottenSystems = new FinalizationRegistry<SystemResources>((system) => {
  system.handleOpen = false;
  closeSystemFdWhenUnused(system);
});

class KvmBackend implements BackendHandle {
  readonly kind = 'kvm' as const;
  #closed = false;
  readonly #system: SystemResources;

  constructor(
    private readonly addon: NativeAddon,
    private readonly fd: number,
    readonly profile: KernelProfile,
    readonly reason: string,
  ) {
    this.#system = { addon, fd, handleOpen: true, openVms: 0, fdOpen: true };
    forgottenSystems.register(this, this.#system, this);
  }

  checkExtension(cap: number): number {
    return check(this.addon.checkExtension(this.fd, cap), 'KVM_CHECK_EXTENSION');
  }

  createVm(opts: VmOptions): VmHandle {
    const { addon } = this;
    if (opts.memorySize === 0n || opts.memorySize % BigInt(MEMSLOT_ALIGNMENT) !== 0n) {
      fail(ERRNO.EINVAL, 'KVM_SET_USER_MEMORY_REGION', `guest memory of ${opts.memorySize} bytes: an s390 memslot is a positive multiple of 1 MiB`);
    }
    const vmFd = addon.createVm(this.fd, 0);
    if (vmFd === -ERRNO.EINVAL) {
      fail(ERRNO.EINVAL, 'KVM_CREATE_VM', 'this kernel gives a process page-status tables (PGSTE), which KVM_CREATE_VM needs, only when they were asked for before the process started: from vm.allocate_pgste or an ELF PGSTE header, which node lacks. Run "sysctl vm.allocate_pgste=1" as root and start node again (every kernel before the gmap rewrite needs this)');
    }
    check(vmFd, 'KVM_CREATE_VM');
    let memory: NativeMapping | undefined;
    let vm: KvmVm;
    try {
      const mapped = addon.mmapGuest(opts.memorySize);
      if (typeof mapped === 'number') fail(-mapped, 'mmap', `${opts.memorySize} bytes of guest memory`);
      memory = mapped;
      check(addon.setUserMemoryRegion(vmFd, 0, 0, 0n, memory), 'KVM_SET_USER_MEMORY_REGION');
      // Inside the try: a handle that cannot be built (its memop channel's allocation) leaves
      // nothing open behind it.
      vm = new KvmVm(addon, vmFd, memory, this.#system);
    } catch (err) {
      addon.close(vmFd);
      memory?.unmap();
      throw err;
    }
    // From here the handle owns the fd and the memory (and its finalizer would close them):
    // a refusal closes the handle, so nothing is closed twice and /dev/kvm is not kept open.
    try {
      refuseFacilitiesItCannotRemove(vm, opts);
    } catch (err) {
      vm.close();
      throw err;
    }
    return vm;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    forgottenSystems.unregister(this);
    this.#system.handleOpen = false;
    closeSystemFdWhenUnused(this.#system);
  }
}

/**
 * The guest CPU model follows the host, and this backend does not change it: asking for a VM
 * without EDAT-1 or EDAT-2 works only where the machine lacks it already.
 */
function refuseFacilitiesItCannotRemove(vm: KvmVm, opts: VmOptions): void {
  if (opts.facilities === undefined) return;
  const has = vm.guestFacilities();
  const kept = [opts.facilities.edat1 === false && has.edat1 ? 'EDAT-1 (8)' : null, opts.facilities.edat2 === false && has.edat2 ? 'EDAT-2 (78)' : null].filter(Boolean);
  if (kept.length) {
    fail(ERRNO.EOPNOTSUPP, 'KVM_SET_DEVICE_ATTR', `the kvm backend cannot remove ${kept.join(' and ')}: the guest facilities follow the host CPU model; use the emulated backend for that`);
  }
}

class KvmVm implements VmHandle {
  readonly #channel: MemOpChannel;
  readonly #resources: VmResources;

  constructor(
    private readonly addon: NativeAddon,
    private readonly fd: number,
    memory: NativeMapping | null,
    system: SystemResources | null,
  ) {
    this.#channel = new MemOpChannel(addon, fd);
    this.#resources = { system, addon, fd, memory, vmFdOpen: true, openVcpus: 0 };
    if (system !== null) system.openVms++;
    forgottenVms.register(this, this.#resources, this);
  }

  checkExtension(cap: number): number {
    return check(this.addon.checkExtension(this.fd, cap), 'KVM_CHECK_EXTENSION');
  }

  memop(req: MemOpRequest): number {
    return this.#channel.memop(req);
  }

  getStorageKeys(startGfn: bigint, count: number, out: Uint8Array, flags: number): number {
    const r = this.addon.getSkeys(this.fd, startGfn, count, out, flags);
    return r === GET_SKEYS_NONE ? GET_SKEYS_NONE : r;
  }

  setStorageKeys(startGfn: bigint, keys: Uint8Array, flags: number): number {
    return this.addon.setSkeys(this.fd, startGfn, keys, flags);
  }

  keyop(operation: number, guestAddr: bigint, key: number): number {
    return this.addon.keyop(this.fd, guestAddr, operation, key);
  }

  /**
   * The VM's guest CPU model. KVM builds the guest's facility list from the host's, so a
   * machine without a facility (Hercules has no EDAT-2, 78) gives VMs without it.
   */
  guestFacilities(): GuestFacilities {
    const model = new Uint8Array(STRUCT_SIZE.kvm_s390_vm_cpu_processor);
    check(this.addon.getCpuProcessor(this.fd, model), 'KVM_GET_DEVICE_ATTR', 'KVM_S390_VM_CPU_MODEL / KVM_S390_VM_CPU_PROCESSOR');
    const list = model.subarray(CPU_PROCESSOR_FAC_LIST_OFFSET);
    const installed: number[] = [];
    // STFLE numbering: facility n is bit n of the string, most significant bit of byte 0 first.
    for (let n = 0; n < list.length * 8; n++) if (list[n >> 3]! & (0x80 >> (n & 7))) installed.push(n);
    const has = (n: number) => installed.includes(n);
    return { edat1: has(FACILITY.EDAT1), edat2: has(FACILITY.EDAT1) && has(FACILITY.EDAT2), installed };
  }

  createVcpu(id: number, opts: VcpuOptions): VcpuHandle {
    if (opts.protected) {
      fail(ERRNO.EOPNOTSUPP, 'KVM_CREATE_VCPU', 'protected (PV) vcpus need a secure-execution guest image and the KVM_S390_PV_COMMAND protocol, which the kvm backend does not drive; SIDA ops are available on the emulated backend');
    }
    const { addon } = this;
    const hasVcpuResets = this.checkExtension(CAP.S390_VCPU_RESETS) > 0;
    const vcpuFd = check(addon.createVcpu(this.fd, id), 'KVM_CREATE_VCPU', `vcpu id ${id}`);
    // The addon asks /dev/kvm for the kvm_run size itself and maps nothing but a vcpu fd.
    const kvmFd = this.#resources.system?.fd ?? -1;
    const run = kvmFd < 0 ? -ERRNO.EBADF : addon.mmapVcpu(kvmFd, vcpuFd);
    if (typeof run === 'number') {
      addon.close(vcpuFd);
      fail(-run, 'mmap', 'the vcpu kvm_run area');
    }
    let vcpu: KvmVcpu;
    try {
      vcpu = new KvmVcpu(addon, id, { vm: this.#resources, fd: vcpuFd, run, open: true }, hasVcpuResets);
    } catch (err) {
      addon.close(vcpuFd);
      run.unmap();
      throw err;
    }
    this.#resources.openVcpus++;
    return vcpu;
  }

  /** The kernel does not say why a memop failed. */
  lastFault(): AccessFault | null {
    return null;
  }

  /**
   * Closes the vm fd only. As in the kernel, an open vcpu fd keeps the VM alive, so the guest
   * memory stays mapped until the last vcpu is closed too.
   */
  close(): void {
    forgottenVms.unregister(this);
    closeVmFd(this.#resources);
  }
}

class KvmVcpu implements VcpuHandle {
  readonly #channel: MemOpChannel;
  readonly #sregs = new Uint8Array(STRUCT_SIZE.kvm_sregs);
  /** The caller's values of the PSW bits a commit run overrides. */
  #userPswBits = 0n;
  readonly #resources: VcpuResources;
  private readonly addon: NativeAddon;
  private readonly fd: number;
  private readonly run: NativeMapping;

  constructor(
    addon: NativeAddon,
    readonly id: number,
    resources: VcpuResources,
    private readonly hasVcpuResets: boolean,
  ) {
    this.#channel = new MemOpChannel(addon, resources.fd);
    this.addon = addon;
    this.fd = resources.fd;
    this.run = resources.run;
    this.#resources = resources;
    forgottenVcpus.register(this, resources, this);
  }

  memop(req: MemOpRequest): number {
    return this.#channel.memop(req);
  }

  getState(): VcpuState {
    check(this.addon.getSregs(this.fd, this.#sregs), 'KVM_GET_SREGS');
    const { acrs, crs } = decodeSregs(this.#sregs, HOST_BYTE_ORDER);
    const mask = (this.run.readU64(KVM_RUN_OFFSET.psw_mask) & ~COMMIT_FORCED) | this.#userPswBits;
    return {
      psw: { mask, addr: this.run.readU64(KVM_RUN_OFFSET.psw_addr) },
      cr: crs,
      ar: acrs,
      prefix: Number(this.run.readU64(KVM_RUN_OFFSET.prefix)),
    };
  }

  /**
   * Spec §11. CRs and ARs go in at once with KVM_SET_SREGS (it writes the SIE block's CRs and
   * kvm_run's ARs, which is where the memop reads them). PSW and prefix only reach the SIE
   * block at a KVM_RUN entry, so they are written into kvm_run (prefix with the
   * KVM_SYNC_PREFIX dirty bit) and committed by one KVM_RUN with a disabled-wait PSW: wait
   * bit 14 set, PER, I/O, external and machine-check masks clear. SIE then intercepts at
   * once, KVM sees a wait with every interrupt class disabled and returns to userspace with
   * KVM_EXIT_S390_SIEIC, without executing a guest instruction. The memop ignores the wait
   * and mask bits. This is derived from the kernel source (kvm_s390_handle_wait and the
   * sync_regs/store_regs pair around KVM_RUN), not from hardware documentation, and has not
   * yet run on an s390x host. Pending interrupts would be delivered by that KVM_RUN, so
   * they are saved (KVM_S390_GET_IRQ_STATE), cleared (KVM_S390_NORMAL_RESET, which keeps
   * PSW, CRs and prefix) and re-queued (KVM_S390_SET_IRQ_STATE) around it.
   */
  setState(update: VcpuStateUpdate): void {
    if (update.cr !== undefined || update.ar !== undefined) {
      check(this.addon.getSregs(this.fd, this.#sregs), 'KVM_GET_SREGS');
      const s = decodeSregs(this.#sregs, HOST_BYTE_ORDER);
      if (update.cr !== undefined) s.crs = update.cr.slice(0, NUM_CRS);
      if (update.ar !== undefined) s.acrs = update.ar.slice(0, NUM_ACRS);
      check(this.addon.setSregs(this.fd, encodeSregs(s, HOST_BYTE_ORDER, this.#sregs)), 'KVM_SET_SREGS');
    }
    if (update.psw === undefined && update.prefix === undefined) return;
    const run = this.run;
    const before = {
      mask: run.readU64(KVM_RUN_OFFSET.psw_mask),
      addr: run.readU64(KVM_RUN_OFFSET.psw_addr),
      prefix: run.readU64(KVM_RUN_OFFSET.prefix),
      userPswBits: this.#userPswBits,
    };
    let mask = (before.mask & ~COMMIT_FORCED) | this.#userPswBits;
    if (update.psw !== undefined) {
      mask = update.psw.mask;
      run.writeU64(KVM_RUN_OFFSET.psw_addr, update.psw.addr);
    }
    if (update.prefix !== undefined) {
      run.writeU64(KVM_RUN_OFFSET.prefix, BigInt(update.prefix));
      run.writeU64(KVM_RUN_OFFSET.kvm_dirty_regs, BigInt(SYNC.PREFIX));
    } else {
      run.writeU64(KVM_RUN_OFFSET.kvm_dirty_regs, 0n);
    }
    this.#userPswBits = mask & COMMIT_FORCED;
    run.writeU64(KVM_RUN_OFFSET.psw_mask, (mask & ~COMMIT_FORCED) | COMMIT_SET);
    try {
      this.#commitByRun();
    } catch (err) {
      // getState must go on reporting what the kernel holds, not what it refused to load.
      run.writeU64(KVM_RUN_OFFSET.psw_mask, before.mask);
      run.writeU64(KVM_RUN_OFFSET.psw_addr, before.addr);
      run.writeU64(KVM_RUN_OFFSET.prefix, before.prefix);
      this.#userPswBits = before.userPswBits;
      throw err;
    }
  }

  /**
   * One KVM_RUN that must end in the wait intercept and nothing else: anything else means the
   * kernel did not load the state as given (an intercept other than wait, a positive result, an
   * error), and is reported with what the kernel did. Pending interrupts are re-queued whatever
   * happens, so a failed commit loses none.
   */
  #commitByRun(): void {
    const pending = this.#pendingIrqBytes();
    if (pending.length > 0) this.#normalReset('clearing pending interrupts before the commit run');
    try {
      // exit_reason keeps the previous run's value when KVM_RUN fails before entering SIE.
      this.run.writeU32(KVM_RUN_OFFSET.exit_reason, 0);
      let r = -EINTR;
      for (let attempt = 0; attempt < COMMIT_RUN_ATTEMPTS && r === -EINTR; attempt++) r = this.addon.run(this.fd);
      if (r === -EINTR) fail(EINTR, 'KVM_RUN', `the commit run was interrupted by a signal ${COMMIT_RUN_ATTEMPTS} times in a row`);
      check(r, 'KVM_RUN', 'committing PSW/prefix with a disabled-wait PSW');
      const exit = this.run.readU32(KVM_RUN_OFFSET.exit_reason);
      const icpt = this.#interceptCode();
      if (r !== 0 || exit !== KVM_EXIT_S390_SIEIC || icpt !== ICPT_WAIT) {
        fail(
          ERRNO.EIO,
          'KVM_RUN',
          `the disabled-wait commit run returned ${r} with exit reason ${exit} and intercept code 0x${icpt.toString(16)}; ` +
            `expected 0, KVM_EXIT_S390_SIEIC (${KVM_EXIT_S390_SIEIC}) and the wait intercept 0x${ICPT_WAIT.toString(16)}: the kernel did not load the state as given`,
        );
      }
    } finally {
      this.run.writeU64(KVM_RUN_OFFSET.kvm_dirty_regs, 0n);
      if (pending.length > 0) check(this.addon.setIrqState(this.fd, pending), 'KVM_S390_SET_IRQ_STATE', 're-queueing interrupts after the commit run');
    }
  }

  /** kvm_run.s390_sieic.icptcode: the first byte of the exit union. */
  #interceptCode(): number {
    const word = this.run.readU32(KVM_RUN_OFFSET.s390_sieic);
    return LE ? word & 0xff : word >>> 24;
  }

  /** Every pending local interrupt as kvm_s390_irq records (empty when none). */
  #pendingIrqBytes(): Uint8Array {
    for (let records = 16; ; records *= 4) {
      const buf = new Uint8Array(records * IRQ_RECORD);
      const n = this.addon.getIrqState(this.fd, buf);
      if (n === -ENOBUFS && records < 4096) continue;
      check(n, 'KVM_S390_GET_IRQ_STATE');
      return buf.subarray(0, n);
    }
  }

  /**
   * KVM_S390_CLEAR_RESET exists since 5.7 (KVM_CAP_S390_VCPU_RESETS); before it, a clear reset is
   * the initial reset plus zeroed access registers, the part of it a memop can see. Either
   * reset loads PSW 0 and prefix 0 into the SIE block but leaves kvm_run's copies as the last
   * run stored them, so those are set here to what the kernel now holds.
   */
  reset(kind: ResetKind): void {
    if (kind === 'clear' && this.hasVcpuResets) {
      check(this.addon.reset(this.fd, 2), 'KVM_S390_CLEAR_RESET');
    } else {
      check(this.addon.reset(this.fd, 0), 'KVM_S390_INITIAL_RESET');
      if (kind === 'clear') this.setState({ ar: new Array<number>(NUM_ACRS).fill(0) });
    }
    this.run.writeU64(KVM_RUN_OFFSET.psw_mask, 0n);
    this.run.writeU64(KVM_RUN_OFFSET.psw_addr, 0n);
    this.run.writeU64(KVM_RUN_OFFSET.prefix, 0n);
    this.#userPswBits = 0n;
  }

  /** KVM_S390_NORMAL_RESET (since 5.7): clears local interrupts, keeps PSW, CRs and prefix. */
  #normalReset(why: string): void {
    if (!this.hasVcpuResets) {
      fail(ERRNO.EOPNOTSUPP, 'KVM_S390_NORMAL_RESET', `this kernel has no KVM_CAP_S390_VCPU_RESETS (Linux 5.7+), so pending interrupts cannot be cleared without an initial reset (${why})`);
    }
    check(this.addon.reset(this.fd, 1), 'KVM_S390_NORMAL_RESET', why);
  }

  pendingProgramInterrupt(): ProgramInterrupt | null {
    const bytes = this.#pendingIrqBytes();
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + IRQ_RECORD <= bytes.length; at += IRQ_RECORD) {
      if (v.getBigUint64(at, LE) !== KVM_S390_PROGRAM_INT) continue;
      const pgm = at + PGM_OFFSET;
      return {
        code: v.getUint16(pgm + PGM_CODE, LE),
        teid: v.getBigUint64(pgm + PGM_TRANS_EXC_CODE, LE),
        accessId: v.getUint8(pgm + PGM_EXC_ACCESS_ID),
      };
    }
    return null;
  }

  clearPendingInterrupts(): void {
    this.#normalReset('clearing pending interrupts');
  }

  /** The kernel does not say why a memop failed. */
  lastFault(): AccessFault | null {
    return null;
  }

  close(): void {
    forgottenVcpus.unregister(this);
    closeVcpuFd(this.#resources);
  }
}


/**
 * A VmHandle over an fd the caller opened (no memory, no vcpus): lets tests drive the full
 * memop and storage-key path against a non-KVM fd, where the kernel answers ENOTTY. Closing
 * it closes the fd.
 */
export function vmHandleOverFd(fd: number): VmHandle {
  return new KvmVm(loadAddon(), fd, null, null);
}

/**
 * A VcpuHandle over an fd the caller opened, with an anonymous page standing in for kvm_run:
 * the vcpu memop path against a non-KVM fd (benchmarks, tests). Only memop is meaningful;
 * closing it closes the fd.
 */
export function vcpuHandleOverFd(fd: number): VcpuHandle {
  const addon = loadAddon();
  const run = addon.mmapGuest(1 << 20);
  if (typeof run === 'number') throw new KvmError(-run, 'mmap', 'anonymous memory for a stand-in kvm_run');
  // A stand-in VM that holds nothing: no vm fd, no guest memory.
  const vm: VmResources = { system: null, addon, fd: -1, memory: null, vmFdOpen: false, openVcpus: 1 };
  return new KvmVcpu(addon, 0, { vm, fd, run, open: true }, false);
}
