// Every number of the kernel's s390 memop interface, defined once (docs/memop-semantics.md §1, §2, §12).
// native/abi.h mirrors these; test/abi-agreement.test.ts proves the two agree.

/**
 * Memory-operation codes (`struct kvm_s390_mem_op.op`).
 *
 * @example
 * ```ts
 * vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: 0, size: 8, buf: new Uint8Array(8) });
 * ```
 */
export const MEMOP = {
  /** Read through the vcpu's address translation (vcpu fd). */
  LOGICAL_READ: 0,
  /** Write through the vcpu's address translation (vcpu fd). */
  LOGICAL_WRITE: 1,
  /** Read the secure-instruction data area of a protected vcpu (vcpu fd). */
  SIDA_READ: 2,
  /** Write the secure-instruction data area of a protected vcpu (vcpu fd). */
  SIDA_WRITE: 3,
  /** Read absolute guest storage (vm fd, Linux 5.18+). */
  ABSOLUTE_READ: 4,
  /** Write absolute guest storage (vm fd, Linux 5.18+). */
  ABSOLUTE_WRITE: 5,
  /** Compare and exchange 1–16 bytes of absolute storage (vm fd, Linux 6.3+). */
  ABSOLUTE_CMPXCHG: 6,
} as const;
/**
 * One of the `MEMOP` codes.
 *
 * @example
 * ```ts
 * const op: MemOpCode = MEMOP.LOGICAL_WRITE;
 * ```
 */
export type MemOpCode = (typeof MEMOP)[keyof typeof MEMOP];

/**
 * Memory-operation flags (`struct kvm_s390_mem_op.flags`).
 *
 * @example
 * ```ts
 * vm.memop({ op: MEMOP.ABSOLUTE_WRITE, size: 8, buf, flags: MEMOP_F.CHECK_ONLY | MEMOP_F.SKEY_PROTECTION, key: 3 });
 * ```
 */
export const MEMOP_F = {
  /** Only check whether the access would succeed; no data moves. */
  CHECK_ONLY: 0x1,
  /** On a program-interruption result, queue that interrupt on the vcpu (logical ops). */
  INJECT_EXCEPTION: 0x2,
  /** Apply key-controlled protection with the descriptor's `key`. */
  SKEY_PROTECTION: 0x4,
} as const;

/**
 * Bits answered by KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP_EXTENSION).
 *
 * @example
 * ```ts
 * const hasCmpxchg = (backend.checkExtension(CAP.S390_MEM_OP_EXTENSION) & MEMOP_EXT.CAP_CMPXCHG) !== 0;
 * ```
 */
export const MEMOP_EXT = {
  /** vm-fd absolute read/write, SKEY_PROTECTION and the key field (5.18+). */
  CAP_BASE: 0x1,
  /** ABSOLUTE_CMPXCHG (6.3+). */
  CAP_CMPXCHG: 0x2,
} as const;

/**
 * The storage-key byte of a 4 KiB page (docs/memop-semantics.md §8.7): ACC, fetch protection, R, C, reserved.
 *
 * @example
 * ```ts
 * const key = 0x30 | STORAGE_KEY.FETCH_PROTECTION; // ACC 3, fetch-protected
 * ```
 */
export const STORAGE_KEY = {
  /** Access-control bits (the key a store or fetch must match). */
  ACC_MASK: 0xf0,
  /** F: fetches are protected too. */
  FETCH_PROTECTION: 0x08,
  /** R: the page was referenced. */
  REFERENCE: 0x04,
  /** C: the page was changed. */
  CHANGE: 0x02,
  /** Must be 0; SET_SKEYS refuses it with EINVAL. */
  RESERVED: 0x01,
} as const;

/**
 * KVM_S390_KEYOP operations (`struct kvm_s390_keyop.operation`, newest kernels, cap 247): the
 * guest's key instructions done by the host on one guest absolute address.
 *
 * @example
 * ```ts
 * vm.keyop(KEYOP.ISKE, 0x100000); // the key of page 0x100000
 * ```
 */
export const KEYOP = {
  /** INSERT STORAGE KEY EXTENDED: `key` := the page's key. */
  ISKE: 1,
  /** RESET REFERENCE BIT EXTENDED: `key` := the old R and C bits (0x04, 0x02); R cleared. */
  RRBE: 2,
  /** SET STORAGE KEY EXTENDED: the key is stored without its reserved bit; `key` := the previous key. */
  SSKE: 3,
} as const;
export type KeyopOperation = (typeof KEYOP)[keyof typeof KEYOP];

/**
 * Capability numbers for KVM_CHECK_EXTENSION.
 *
 * @example
 * ```ts
 * backend.checkExtension(CAP.S390_MEM_OP); // 65536, the largest memop
 * ```
 */
export const CAP = {
  /** `KVM_CAP_S390_PSW`. */
  S390_PSW: 42,
  /** `KVM_CAP_SYNC_REGS`. */
  SYNC_REGS: 74,
  /** `KVM_CAP_S390_MEM_OP`. */
  S390_MEM_OP: 108,
  /** `KVM_CAP_S390_SKEYS`. */
  S390_SKEYS: 110,
  /** `KVM_CAP_S390_INJECT_IRQ`. */
  S390_INJECT_IRQ: 113,
  /** `KVM_CAP_S390_IRQ_STATE`. */
  S390_IRQ_STATE: 114,
  /** `KVM_CAP_S390_VCPU_RESETS`. */
  S390_VCPU_RESETS: 179,
  /** `KVM_CAP_S390_PROTECTED`. */
  S390_PROTECTED: 180,
  /** `KVM_CAP_S390_MEM_OP_EXTENSION`. */
  S390_MEM_OP_EXTENSION: 211,
  /** `KVM_CAP_S390_KEYOP`. */
  S390_KEYOP: 247,
} as const;

/**
 * `KVM_CAP_*` names by capability number.
 *
 * @example
 * ```ts
 * CAP_NAMES[108]; // 'KVM_CAP_S390_MEM_OP'
 * ```
 */
export const CAP_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(CAP).map(([name, value]) => [value, `KVM_CAP_${name}`])),
);

/**
 * The largest size of one KVM_S390_MEM_OP (what KVM_CAP_S390_MEM_OP answers).
 *
 * @example
 * ```ts
 * const chunks = Math.ceil(length / MEM_OP_MAX_SIZE);
 * ```
 */
export const MEM_OP_MAX_SIZE = 65536;
/**
 * The most keys one GET/SET_SKEYS call takes (KVM_S390_SKEYS_MAX).
 *
 * @example
 * ```ts
 * vm.getStorageKeys(0, Math.min(pages, SKEYS_MAX));
 * ```
 */
export const SKEYS_MAX = 1048576;
/**
 * What KVM_S390_GET_SKEYS returns while the VM uses no storage keys (`getStorageKeys` gives null).
 *
 * @example
 * ```ts
 * if (vm.getStorageKeys(0, 1) === null) console.log('no keys yet (kernel result', GET_SKEYS_NONE, ')');
 * ```
 */
export const GET_SKEYS_NONE = 1;
export const NUM_ACRS = 16;
export const NUM_CRS = 16;
/**
 * Bytes of a page: one storage key covers one page.
 *
 * @example
 * ```ts
 * vm.setStorageKeys(0x100000 / PAGE_SIZE, Uint8Array.of(0x38));
 * ```
 */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
/** s390 memslots must start and end on 1 MiB boundaries. */
export const MEMSLOT_ALIGNMENT = 1 << 20;
export const CMPXCHG_MAX_SIZE = 16;

/**
 * Program-interruption codes a memop can return (docs/memop-semantics.md §2).
 *
 * @example
 * ```ts
 * if (vm.check(0x100000, 8, 'write', { key: 5 }) === PGM.PROTECTION) console.log('protected');
 * ```
 */
export const PGM = {
  /** `PGM_PROTECTION`: program-interruption code 0x04. */
  PROTECTION: 0x04,
  /** `PGM_ADDRESSING`: program-interruption code 0x05. */
  ADDRESSING: 0x05,
  /** `PGM_SEGMENT_TRANSLATION`: program-interruption code 0x10. */
  SEGMENT_TRANSLATION: 0x10,
  /** `PGM_PAGE_TRANSLATION`: program-interruption code 0x11. */
  PAGE_TRANSLATION: 0x11,
  /** `PGM_TRANSLATION_SPEC`: program-interruption code 0x12. */
  TRANSLATION_SPEC: 0x12,
  /** `PGM_ALET_SPECIFICATION`: program-interruption code 0x28. */
  ALET_SPECIFICATION: 0x28,
  /** `PGM_ALEN_TRANSLATION`: program-interruption code 0x29. */
  ALEN_TRANSLATION: 0x29,
  /** `PGM_ALE_SEQUENCE`: program-interruption code 0x2a. */
  ALE_SEQUENCE: 0x2a,
  /** `PGM_ASTE_VALIDITY`: program-interruption code 0x2b. */
  ASTE_VALIDITY: 0x2b,
  /** `PGM_ASTE_SEQUENCE`: program-interruption code 0x2c. */
  ASTE_SEQUENCE: 0x2c,
  /** `PGM_EXTENDED_AUTHORITY`: program-interruption code 0x2d. */
  EXTENDED_AUTHORITY: 0x2d,
  /** `PGM_ASCE_TYPE`: program-interruption code 0x38. */
  ASCE_TYPE: 0x38,
  /** `PGM_REGION_FIRST_TRANS`: program-interruption code 0x39. */
  REGION_FIRST_TRANS: 0x39,
  /** `PGM_REGION_SECOND_TRANS`: program-interruption code 0x3a. */
  REGION_SECOND_TRANS: 0x3a,
  /** `PGM_REGION_THIRD_TRANS`: program-interruption code 0x3b. */
  REGION_THIRD_TRANS: 0x3b,
} as const;
/**
 * One of the `PGM` codes.
 *
 * @example
 * ```ts
 * const code: PgmCode = PGM.ADDRESSING;
 * ```
 */
export type PgmCode = (typeof PGM)[keyof typeof PGM];
/**
 * 'PGM_PROTECTION' …; `PGM_0x..` for a code outside the table.
 *
 * @example
 * ```ts
 * const name: PgmName = pgmName(4); // 'PGM_PROTECTION'
 * ```
 */
export type PgmName = `PGM_${keyof typeof PGM}` | `PGM_0x${string}`;

const PGM_NAME_BY_CODE = new Map<number, string>(
  Object.entries(PGM).map(([name, code]) => [code, `PGM_${name}`]),
);

/**
 * The name of a program-interruption code.
 *
 * @param code - The code.
 * @returns 'PGM_PROTECTION' for 4; `PGM_0x..` for a code the memop API never returns.
 * @example
 * ```ts
 * pgmName(0x11); // 'PGM_PAGE_TRANSLATION'
 * ```
 */
export function pgmName(code: number): PgmName {
  return (PGM_NAME_BY_CODE.get(code) as PgmName | undefined) ?? `PGM_0x${code.toString(16).padStart(2, '0')}`;
}

/**
 * Linux errno values the interface produces (asm-generic, identical on s390x and x86_64).
 *
 * @example
 * ```ts
 * if (err instanceof KvmError && err.errno === ERRNO.E2BIG) console.log('split the access');
 * ```
 */
export const ERRNO = {
  /** Operation not permitted. */
  EPERM: 1,
  /** No such file or directory. */
  ENOENT: 2,
  /** Interrupted system call. */
  EINTR: 4,
  /** Input/output error. */
  EIO: 5,
  /** Argument list too long (a memop above the size limit). */
  E2BIG: 7,
  /** Exec format error (an addon file that is not a loadable binary for this host). */
  ENOEXEC: 8,
  /** Bad file descriptor (also: a closed handle). */
  EBADF: 9,
  /** Resource temporarily unavailable. */
  EAGAIN: 11,
  /** Cannot allocate memory. */
  ENOMEM: 12,
  /** Permission denied. */
  EACCES: 13,
  /** Bad address (a user pointer the kernel cannot access). */
  EFAULT: 14,
  /** Device or resource busy. */
  EBUSY: 16,
  /** File exists. */
  EEXIST: 17,
  /** No such device. */
  ENODEV: 19,
  /** Invalid argument. */
  EINVAL: 22,
  /** Too many open files. */
  EMFILE: 24,
  /** Inappropriate ioctl for device (an ioctl this fd does not know). */
  ENOTTY: 25,
  /** No space left on device. */
  ENOSPC: 28,
  /** Function not implemented. */
  ENOSYS: 38,
  /** Operation not supported. */
  EOPNOTSUPP: 95,
  /** No buffer space available. */
  ENOBUFS: 105,
  /** Accessing a corrupted shared library (an addon file that is not this addon, or does not load). */
  ELIBBAD: 80,
} as const;
/**
 * The name of one of the `ERRNO` values.
 *
 * @example
 * ```ts
 * const name: ErrnoName = 'EFAULT';
 * ```
 */
export type ErrnoName = keyof typeof ERRNO;

const ERRNO_NAME_BY_VALUE = new Map<number, string>(
  Object.entries(ERRNO).map(([name, value]) => [value, name]),
);

/**
 * The name of an errno value.
 *
 * @param errno - The positive errno value.
 * @returns 'EINVAL' for 22; `E<n>` for a value outside the table.
 * @example
 * ```ts
 * errnoName(7); // 'E2BIG'
 * ```
 */
export function errnoName(errno: number): string {
  return ERRNO_NAME_BY_VALUE.get(errno) ?? `E${errno}`;
}

// ---- ioctl numbers (generic Linux encoding, docs/memop-semantics.md §1.1) ----
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
const KVMIO = 0xae;

/** dir<<30 | size<<16 | type<<8 | nr, as an unsigned 32-bit number. */
export function ioctlNumber(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
const io = (nr: number) => ioctlNumber(IOC_NONE, KVMIO, nr, 0);
const ior = (nr: number, size: number) => ioctlNumber(IOC_READ, KVMIO, nr, size);
const iow = (nr: number, size: number) => ioctlNumber(IOC_WRITE, KVMIO, nr, size);
const iowr = (nr: number, size: number) => ioctlNumber(IOC_READ | IOC_WRITE, KVMIO, nr, size);

export const STRUCT_SIZE = {
  /** `sizeof(struct kvm_s390_mem_op)` in bytes. */
  kvm_s390_mem_op: 64,
  /** `sizeof(struct kvm_s390_skeys)` in bytes. */
  kvm_s390_skeys: 64,
  /** `sizeof(struct kvm_userspace_memory_region)` in bytes. */
  kvm_userspace_memory_region: 32,
  /** `sizeof(struct kvm_regs)` in bytes. */
  kvm_regs: 128,
  /** `sizeof(struct kvm_sregs)` in bytes. */
  kvm_sregs: 192,
  /** `sizeof(struct kvm_s390_psw)` in bytes. */
  kvm_s390_psw: 16,
  /** `sizeof(struct kvm_s390_interrupt)` in bytes. */
  kvm_s390_interrupt: 16,
  /** `sizeof(struct kvm_s390_irq)` in bytes. */
  kvm_s390_irq: 72,
  /** `sizeof(struct kvm_mp_state)` in bytes. */
  kvm_mp_state: 4,
  /** `sizeof(struct kvm_enable_cap)` in bytes. */
  kvm_enable_cap: 104,
  /** `sizeof(struct kvm_one_reg)` in bytes. */
  kvm_one_reg: 16,
  /** `sizeof(struct kvm_s390_pv_cmd)` in bytes. */
  kvm_s390_pv_cmd: 32,
  /** `sizeof(struct kvm_s390_keyop)` in bytes. */
  kvm_s390_keyop: 16,
  kvm_device_attr: 24,
  kvm_s390_vm_cpu_processor: 2064,
  /** `sizeof(struct kvm_s390_irq_state)` in bytes. */
  kvm_s390_irq_state: 32,
  /** `sizeof(struct kvm_s390_pgm_info)` in bytes. */
  kvm_s390_pgm_info: 40,
} as const;

/**
 * The ioctl request numbers the backends use (generic Linux encoding, docs/memop-semantics.md §1.1).
 *
 * @example
 * ```ts
 * IOCTL.S390_MEM_OP.toString(16); // '4040aeb1'
 * ```
 */
export const IOCTL = {
  /** The `KVM_GET_API_VERSION` request number. */
  GET_API_VERSION: io(0x00),
  /** The `KVM_CREATE_VM` request number. */
  CREATE_VM: io(0x01),
  /** The `KVM_CHECK_EXTENSION` request number. */
  CHECK_EXTENSION: io(0x03),
  /** The `KVM_GET_VCPU_MMAP_SIZE` request number. */
  GET_VCPU_MMAP_SIZE: io(0x04),
  /** The `KVM_CREATE_VCPU` request number. */
  CREATE_VCPU: io(0x41),
  /** The `KVM_SET_USER_MEMORY_REGION` request number. */
  SET_USER_MEMORY_REGION: iow(0x46, STRUCT_SIZE.kvm_userspace_memory_region),
  /** The `KVM_RUN` request number. */
  RUN: io(0x80),
  /** The `KVM_GET_REGS` request number. */
  GET_REGS: ior(0x81, STRUCT_SIZE.kvm_regs),
  /** The `KVM_SET_REGS` request number. */
  SET_REGS: iow(0x82, STRUCT_SIZE.kvm_regs),
  /** The `KVM_GET_SREGS` request number. */
  GET_SREGS: ior(0x83, STRUCT_SIZE.kvm_sregs),
  /** The `KVM_SET_SREGS` request number. */
  SET_SREGS: iow(0x84, STRUCT_SIZE.kvm_sregs),
  /** The `KVM_S390_INTERRUPT` request number. */
  S390_INTERRUPT: iow(0x94, STRUCT_SIZE.kvm_s390_interrupt),
  /** The `KVM_S390_STORE_STATUS` request number. */
  S390_STORE_STATUS: iow(0x95, 8),
  /** The `KVM_S390_SET_INITIAL_PSW` request number. */
  S390_SET_INITIAL_PSW: iow(0x96, STRUCT_SIZE.kvm_s390_psw),
  /** The `KVM_S390_INITIAL_RESET` request number. */
  S390_INITIAL_RESET: io(0x97),
  /** The `KVM_GET_MP_STATE` request number. */
  GET_MP_STATE: ior(0x98, STRUCT_SIZE.kvm_mp_state),
  /** The `KVM_SET_MP_STATE` request number. */
  SET_MP_STATE: iow(0x99, STRUCT_SIZE.kvm_mp_state),
  /** The `KVM_ENABLE_CAP` request number. */
  ENABLE_CAP: iow(0xa3, STRUCT_SIZE.kvm_enable_cap),
  /** The `KVM_GET_ONE_REG` request number. */
  GET_ONE_REG: iow(0xab, STRUCT_SIZE.kvm_one_reg),
  /** The `KVM_SET_ONE_REG` request number. */
  SET_ONE_REG: iow(0xac, STRUCT_SIZE.kvm_one_reg),
  /** The `KVM_S390_MEM_OP` request number. */
  S390_MEM_OP: iow(0xb1, STRUCT_SIZE.kvm_s390_mem_op),
  /** The `KVM_S390_GET_SKEYS` request number. */
  S390_GET_SKEYS: iow(0xb2, STRUCT_SIZE.kvm_s390_skeys),
  /** The `KVM_S390_SET_SKEYS` request number. */
  S390_SET_SKEYS: iow(0xb3, STRUCT_SIZE.kvm_s390_skeys),
  /** The `KVM_S390_IRQ` request number. */
  S390_IRQ: iow(0xb4, STRUCT_SIZE.kvm_s390_irq),
  /** The `KVM_S390_SET_IRQ_STATE` request number. */
  S390_SET_IRQ_STATE: iow(0xb5, STRUCT_SIZE.kvm_s390_irq_state),
  /** The `KVM_S390_GET_IRQ_STATE` request number. */
  S390_GET_IRQ_STATE: iow(0xb6, STRUCT_SIZE.kvm_s390_irq_state),
  /** The `KVM_S390_NORMAL_RESET` request number. */
  S390_NORMAL_RESET: io(0xc3),
  /** The `KVM_S390_CLEAR_RESET` request number. */
  S390_CLEAR_RESET: io(0xc4),
  /** The `KVM_S390_PV_COMMAND` request number. */
  S390_PV_COMMAND: iowr(0xc5, STRUCT_SIZE.kvm_s390_pv_cmd),
  /** The `KVM_S390_KEYOP` request number. */
  S390_KEYOP: iowr(0x53, STRUCT_SIZE.kvm_s390_keyop),
  /** The `KVM_GET_DEVICE_ATTR` request number. */
  GET_DEVICE_ATTR: iow(0xe2, STRUCT_SIZE.kvm_device_attr),
} as const;

/**
 * kvm_run sync-register bits (docs/memop-semantics.md §1.5).
 *
 * @example
 * ```ts
 * const dirty = SYNC.PREFIX | SYNC.CRS;
 * ```
 */
export const SYNC = {
  /** `KVM_SYNC_PREFIX` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  PREFIX: 0x1,
  /** `KVM_SYNC_GPRS` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  GPRS: 0x2,
  /** `KVM_SYNC_ACRS` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  ACRS: 0x4,
  /** `KVM_SYNC_CRS` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  CRS: 0x8,
  /** `KVM_SYNC_ARCH0` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  ARCH0: 0x10,
  /** `KVM_SYNC_PFAULT` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  PFAULT: 0x20,
  /** `KVM_SYNC_VRS` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  VRS: 0x40,
  /** `KVM_SYNC_RICCB` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  RICCB: 0x80,
  /** `KVM_SYNC_FPRS` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  FPRS: 0x100,
  /** `KVM_SYNC_GSCB` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  GSCB: 0x200,
  /** `KVM_SYNC_BPBC` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  BPBC: 0x400,
  /** `KVM_SYNC_ETOKEN` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  ETOKEN: 0x800,
  /** `KVM_SYNC_DIAG318` in `kvm_run.kvm_valid_regs` / `kvm_dirty_regs`. */
  DIAG318: 0x1000,
} as const;

/** Byte offsets inside the s390 `struct kvm_run` (docs/memop-semantics.md §1.5). */
export const KVM_RUN_OFFSET = {
  /** Offset of `exit_reason` in the s390 `struct kvm_run`. */
  exit_reason: 0x08,
  /** Offset of `psw_mask` in the s390 `struct kvm_run`. */
  psw_mask: 0x20,
  /** Offset of `psw_addr` in the s390 `struct kvm_run`. */
  psw_addr: 0x28,
  /** The exit union; KVM_EXIT_S390_SIEIC puts icptcode (u8), ipa (u16), ipb (u32) here. */
  s390_sieic: 0x30,
  /** Offset of `kvm_valid_regs` in the s390 `struct kvm_run`. */
  kvm_valid_regs: 0x130,
  /** Offset of `kvm_dirty_regs` in the s390 `struct kvm_run`. */
  kvm_dirty_regs: 0x138,
  /** Offset of `prefix` in the s390 `struct kvm_run`. */
  prefix: 0x140,
  /** Offset of `gprs` in the s390 `struct kvm_run`. */
  gprs: 0x148,
  /** Offset of `acrs` in the s390 `struct kvm_run`. */
  acrs: 0x1c8,
  /** Offset of `crs` in the s390 `struct kvm_run`. */
  crs: 0x208,
} as const;

/** Byte offsets inside `struct kvm_s390_mem_op` (docs/memop-semantics.md §1.3). */
export const MEM_OP_OFFSET = {
  /** Offset of `gaddr` in `struct kvm_s390_mem_op`. */
  gaddr: 0,
  /** Offset of `flags` in `struct kvm_s390_mem_op`. */
  flags: 8,
  /** Offset of `size` in `struct kvm_s390_mem_op`. */
  size: 16,
  /** Offset of `op` in `struct kvm_s390_mem_op`. */
  op: 20,
  /** Offset of `buf` in `struct kvm_s390_mem_op`. */
  buf: 24,
  /** Offset of `ar` in `struct kvm_s390_mem_op`. */
  ar: 32,
  /** Offset of `key` in `struct kvm_s390_mem_op`. */
  key: 33,
  /** Offset of `sida_offset` in `struct kvm_s390_mem_op`. */
  sida_offset: 32,
  /** Offset of `old_addr` in `struct kvm_s390_mem_op`. */
  old_addr: 40,
} as const;

/** Byte offsets inside `struct kvm_s390_skeys` (docs/memop-semantics.md §1.5). */
export const SKEYS_OFFSET = {
  /** Offset of `start_gfn` in `struct kvm_s390_skeys`. */
  start_gfn: 0,
  /** Offset of `count` in `struct kvm_s390_skeys`. */
  count: 8,
  /** Offset of `skeydata_addr` in `struct kvm_s390_skeys`. */
  skeydata_addr: 16,
  /** Offset of `flags` in `struct kvm_s390_skeys`. */
  flags: 24,
} as const;

/** Byte offsets inside `struct kvm_s390_keyop` (16 bytes: u64, u8, u8, pad[6]). */
export const KEYOP_OFFSET = {
  guest_addr: 0,
  key: 8,
  operation: 9,
} as const;

/** Byte offsets inside `struct kvm_sregs` on s390 (docs/memop-semantics.md §1.5). */
export const SREGS_OFFSET = {
  /** Offset of `acrs` in the s390 `struct kvm_sregs`. */
  acrs: 0,
  /** Offset of `crs` in the s390 `struct kvm_sregs`. */
  crs: 64,
} as const;

/** The prefix register's significant bits (1-18): an 8 KiB aligned 31-bit address. */
export const PREFIX_MASK = 0x7fffe000;
/** The two pages (lowcore) that prefixing swaps with real 0..8191. */
export const PREFIX_AREA = 0x2000;

/** Where the facility list sits in `struct kvm_s390_vm_cpu_processor`. */
export const CPU_PROCESSOR_FAC_LIST_OFFSET = 16;
/** STFLE facility numbers the memop paths depend on. */
export const FACILITY = {
  EDAT1: 8,
  EDAT2: 78,
} as const;
