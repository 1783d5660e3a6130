// Every number of the kernel's s390 memop interface, defined once (spec §1, §2, §12).
// native/abi.h mirrors these; test/abi-agreement.test.ts proves the two agree.

/** Memory-operation codes (`struct kvm_s390_mem_op.op`). */
export const MEMOP = {
  LOGICAL_READ: 0,
  LOGICAL_WRITE: 1,
  SIDA_READ: 2,
  SIDA_WRITE: 3,
  ABSOLUTE_READ: 4,
  ABSOLUTE_WRITE: 5,
  ABSOLUTE_CMPXCHG: 6,
} as const;
export type MemOpCode = (typeof MEMOP)[keyof typeof MEMOP];

/** Memory-operation flags (`struct kvm_s390_mem_op.flags`). */
export const MEMOP_F = {
  CHECK_ONLY: 0x1,
  INJECT_EXCEPTION: 0x2,
  SKEY_PROTECTION: 0x4,
} as const;

/** Bits answered by KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP_EXTENSION). */
export const MEMOP_EXT = {
  CAP_BASE: 0x1,
  CAP_CMPXCHG: 0x2,
} as const;

/** The storage-key byte of a 4 KiB page (spec §8.7): ACC, fetch protection, R, C, reserved. */
export const STORAGE_KEY = {
  ACC_MASK: 0xf0,
  FETCH_PROTECTION: 0x08,
  REFERENCE: 0x04,
  CHANGE: 0x02,
  RESERVED: 0x01,
} as const;

/**
 * KVM_S390_KEYOP operations (`struct kvm_s390_keyop.operation`, newest kernels, cap 247): the
 * guest's key instructions done by the host on one guest absolute address.
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

/** Capability numbers for KVM_CHECK_EXTENSION. */
export const CAP = {
  S390_PSW: 42,
  SYNC_REGS: 74,
  S390_MEM_OP: 108,
  S390_SKEYS: 110,
  S390_INJECT_IRQ: 113,
  S390_IRQ_STATE: 114,
  S390_VCPU_RESETS: 179,
  S390_PROTECTED: 180,
  S390_MEM_OP_EXTENSION: 211,
  S390_KEYOP: 247,
} as const;

export const CAP_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(CAP).map(([name, value]) => [value, `KVM_CAP_${name}`])),
);

/** Limits and special values. */
export const MEM_OP_MAX_SIZE = 65536;
export const SKEYS_MAX = 1048576;
export const GET_SKEYS_NONE = 1;
export const NUM_ACRS = 16;
export const NUM_CRS = 16;
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
/** s390 memslots must start and end on 1 MiB boundaries. */
export const MEMSLOT_ALIGNMENT = 1 << 20;
export const CMPXCHG_MAX_SIZE = 16;

/** Program-interruption codes a memop can return (spec §2). */
export const PGM = {
  PROTECTION: 0x04,
  ADDRESSING: 0x05,
  SEGMENT_TRANSLATION: 0x10,
  PAGE_TRANSLATION: 0x11,
  TRANSLATION_SPEC: 0x12,
  ALET_SPECIFICATION: 0x28,
  ALEN_TRANSLATION: 0x29,
  ALE_SEQUENCE: 0x2a,
  ASTE_VALIDITY: 0x2b,
  ASTE_SEQUENCE: 0x2c,
  EXTENDED_AUTHORITY: 0x2d,
  ASCE_TYPE: 0x38,
  REGION_FIRST_TRANS: 0x39,
  REGION_SECOND_TRANS: 0x3a,
  REGION_THIRD_TRANS: 0x3b,
} as const;
export type PgmCode = (typeof PGM)[keyof typeof PGM];

const PGM_NAME_BY_CODE = new Map<number, string>(
  Object.entries(PGM).map(([name, code]) => [code, `PGM_${name}`]),
);

/** 'PGM_PROTECTION' for 4; `PGM_0x..` for a code the memop API never returns. */
export function pgmName(code: number): string {
  return PGM_NAME_BY_CODE.get(code) ?? `PGM_0x${code.toString(16).padStart(2, '0')}`;
}

/** Linux errno values the interface produces (asm-generic, identical on s390x and x86_64). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
  ELIBBAD: 80,
} as const;
export type ErrnoName = keyof typeof ERRNO;

const ERRNO_NAME_BY_VALUE = new Map<number, string>(
  Object.entries(ERRNO).map(([name, value]) => [value, name]),
);

export function errnoName(errno: number): string {
  return ERRNO_NAME_BY_VALUE.get(errno) ?? `E${errno}`;
}

// ---- ioctl numbers (generic Linux encoding, spec §1.1) ----
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
  kvm_s390_mem_op: 64,
  kvm_s390_skeys: 64,
  kvm_userspace_memory_region: 32,
  kvm_regs: 128,
  kvm_sregs: 192,
  kvm_s390_psw: 16,
  kvm_s390_interrupt: 16,
  kvm_s390_irq: 72,
  kvm_mp_state: 4,
  kvm_enable_cap: 104,
  kvm_one_reg: 16,
  kvm_s390_pv_cmd: 32,
  kvm_s390_keyop: 16,
  kvm_device_attr: 24,
  kvm_s390_vm_cpu_processor: 2064,
  kvm_s390_irq_state: 32,
  kvm_s390_pgm_info: 40,
} as const;

export const IOCTL = {
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  CREATE_VCPU: io(0x41),
  SET_USER_MEMORY_REGION: iow(0x46, STRUCT_SIZE.kvm_userspace_memory_region),
  RUN: io(0x80),
  GET_REGS: ior(0x81, STRUCT_SIZE.kvm_regs),
  SET_REGS: iow(0x82, STRUCT_SIZE.kvm_regs),
  GET_SREGS: ior(0x83, STRUCT_SIZE.kvm_sregs),
  SET_SREGS: iow(0x84, STRUCT_SIZE.kvm_sregs),
  S390_INTERRUPT: iow(0x94, STRUCT_SIZE.kvm_s390_interrupt),
  S390_STORE_STATUS: iow(0x95, 8),
  S390_SET_INITIAL_PSW: iow(0x96, STRUCT_SIZE.kvm_s390_psw),
  S390_INITIAL_RESET: io(0x97),
  GET_MP_STATE: ior(0x98, STRUCT_SIZE.kvm_mp_state),
  SET_MP_STATE: iow(0x99, STRUCT_SIZE.kvm_mp_state),
  ENABLE_CAP: iow(0xa3, STRUCT_SIZE.kvm_enable_cap),
  GET_ONE_REG: iow(0xab, STRUCT_SIZE.kvm_one_reg),
  SET_ONE_REG: iow(0xac, STRUCT_SIZE.kvm_one_reg),
  S390_MEM_OP: iow(0xb1, STRUCT_SIZE.kvm_s390_mem_op),
  S390_GET_SKEYS: iow(0xb2, STRUCT_SIZE.kvm_s390_skeys),
  S390_SET_SKEYS: iow(0xb3, STRUCT_SIZE.kvm_s390_skeys),
  S390_IRQ: iow(0xb4, STRUCT_SIZE.kvm_s390_irq),
  S390_SET_IRQ_STATE: iow(0xb5, STRUCT_SIZE.kvm_s390_irq_state),
  S390_GET_IRQ_STATE: iow(0xb6, STRUCT_SIZE.kvm_s390_irq_state),
  S390_NORMAL_RESET: io(0xc3),
  S390_CLEAR_RESET: io(0xc4),
  S390_PV_COMMAND: iowr(0xc5, STRUCT_SIZE.kvm_s390_pv_cmd),
  S390_KEYOP: iowr(0x53, STRUCT_SIZE.kvm_s390_keyop),
  GET_DEVICE_ATTR: iow(0xe2, STRUCT_SIZE.kvm_device_attr),
} as const;

/** kvm_run sync-register bits (spec §1.5). */
export const SYNC = {
  PREFIX: 0x1,
  GPRS: 0x2,
  ACRS: 0x4,
  CRS: 0x8,
  ARCH0: 0x10,
  PFAULT: 0x20,
  VRS: 0x40,
  RICCB: 0x80,
  FPRS: 0x100,
  GSCB: 0x200,
  BPBC: 0x400,
  ETOKEN: 0x800,
  DIAG318: 0x1000,
} as const;

/** Byte offsets inside the s390 `struct kvm_run` (spec §1.5). */
export const KVM_RUN_OFFSET = {
  exit_reason: 0x08,
  psw_mask: 0x20,
  psw_addr: 0x28,
  /** The exit union; KVM_EXIT_S390_SIEIC puts icptcode (u8), ipa (u16), ipb (u32) here. */
  s390_sieic: 0x30,
  kvm_valid_regs: 0x130,
  kvm_dirty_regs: 0x138,
  prefix: 0x140,
  gprs: 0x148,
  acrs: 0x1c8,
  crs: 0x208,
} as const;

/** Byte offsets inside `struct kvm_s390_mem_op` (spec §1.3). */
export const MEM_OP_OFFSET = {
  gaddr: 0,
  flags: 8,
  size: 16,
  op: 20,
  buf: 24,
  ar: 32,
  key: 33,
  sida_offset: 32,
  old_addr: 40,
} as const;

/** Byte offsets inside `struct kvm_s390_skeys` (spec §1.5). */
export const SKEYS_OFFSET = {
  start_gfn: 0,
  count: 8,
  skeydata_addr: 16,
  flags: 24,
} as const;

/** Byte offsets inside `struct kvm_s390_keyop` (16 bytes: u64, u8, u8, pad[6]). */
export const KEYOP_OFFSET = {
  guest_addr: 0,
  key: 8,
  operation: 9,
} as const;

/** Byte offsets inside `struct kvm_sregs` on s390 (spec §1.5). */
export const SREGS_OFFSET = {
  acrs: 0,
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
