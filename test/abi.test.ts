// Pins every number of src/abi against the spec's tables (docs/memop-semantics.md §1, §2, §12), and the struct
// codecs against hand-laid byte images in both byte orders.
import { describe, expect, it } from 'vitest';
import {
  CAP,
  ERRNO,
  GET_SKEYS_NONE,
  IOCTL,
  MEMOP,
  MEMOP_EXT,
  MEMOP_F,
  MEM_OP_MAX_SIZE,
  NUM_ACRS,
  PGM,
  SKEYS_MAX,
  STRUCT_SIZE,
  SYNC,
  KVM_RUN_OFFSET,
  errnoName,
  pgmName,
} from '../src/abi/constants.js';
import { decodeMemOp, decodeSkeys, decodeSregs, encodeMemOp, encodeSkeys, encodeSregs, HOST_BYTE_ORDER } from '../src/abi/structs.js';
import { hasFlag, hasFlagsOutside } from '../src/abi/flags.js';

describe('ioctl numbers (docs/memop-semantics.md §1.1)', () => {
  const table: Array<[keyof typeof IOCTL, number]> = [
    ['GET_API_VERSION', 0x0000ae00],
    ['CREATE_VM', 0x0000ae01],
    ['CHECK_EXTENSION', 0x0000ae03],
    ['GET_VCPU_MMAP_SIZE', 0x0000ae04],
    ['CREATE_VCPU', 0x0000ae41],
    ['SET_USER_MEMORY_REGION', 0x4020ae46],
    ['RUN', 0x0000ae80],
    ['GET_REGS', 0x8080ae81],
    ['SET_REGS', 0x4080ae82],
    ['GET_SREGS', 0x80c0ae83],
    ['SET_SREGS', 0x40c0ae84],
    ['S390_INTERRUPT', 0x4010ae94],
    ['S390_STORE_STATUS', 0x4008ae95],
    ['S390_SET_INITIAL_PSW', 0x4010ae96],
    ['S390_INITIAL_RESET', 0x0000ae97],
    ['GET_MP_STATE', 0x8004ae98],
    ['SET_MP_STATE', 0x4004ae99],
    ['ENABLE_CAP', 0x4068aea3],
    ['GET_ONE_REG', 0x4010aeab],
    ['SET_ONE_REG', 0x4010aeac],
    ['S390_MEM_OP', 0x4040aeb1],
    ['S390_GET_SKEYS', 0x4040aeb2],
    ['S390_SET_SKEYS', 0x4040aeb3],
    ['S390_IRQ', 0x4048aeb4],
    ['S390_SET_IRQ_STATE', 0x4020aeb5],
    ['S390_GET_IRQ_STATE', 0x4020aeb6],
    ['S390_NORMAL_RESET', 0x0000aec3],
    ['S390_CLEAR_RESET', 0x0000aec4],
    ['S390_PV_COMMAND', 0xc020aec5],
    ['S390_KEYOP', 0xc010ae53],
    ['GET_DEVICE_ATTR', 0x4018aee2],
  ];
  it.each(table)('%s = %i', (name, value) => {
    expect(IOCTL[name]).toBe(value);
  });
  it('the table covers every ioctl we define', () => {
    expect(new Set(table.map(([n]) => n))).toEqual(new Set(Object.keys(IOCTL)));
  });
});

describe('ops, flags, extension bits, limits (docs/memop-semantics.md §1.4)', () => {
  it('ops', () => {
    expect(MEMOP).toEqual({
      LOGICAL_READ: 0, LOGICAL_WRITE: 1, SIDA_READ: 2, SIDA_WRITE: 3,
      ABSOLUTE_READ: 4, ABSOLUTE_WRITE: 5, ABSOLUTE_CMPXCHG: 6,
    });
  });
  it('flags', () => {
    expect(MEMOP_F).toEqual({ CHECK_ONLY: 1, INJECT_EXCEPTION: 2, SKEY_PROTECTION: 4 });
  });
  it('extension bits and limits', () => {
    expect(MEMOP_EXT).toEqual({ CAP_BASE: 1, CAP_CMPXCHG: 2 });
    expect(MEM_OP_MAX_SIZE).toBe(65536);
    expect(SKEYS_MAX).toBe(1048576);
    expect(GET_SKEYS_NONE).toBe(1);
    expect(NUM_ACRS).toBe(16);
  });
  it('capability numbers (docs/memop-semantics.md §1.2)', () => {
    expect(CAP).toMatchObject({
      S390_PSW: 42, SYNC_REGS: 74, S390_MEM_OP: 108, S390_SKEYS: 110, S390_INJECT_IRQ: 113,
      S390_VCPU_RESETS: 179, S390_PROTECTED: 180, S390_MEM_OP_EXTENSION: 211, S390_KEYOP: 247,
    });
  });
  it('sync-register bits (docs/memop-semantics.md §1.5)', () => {
    expect(SYNC).toEqual({
      PREFIX: 0x1, GPRS: 0x2, ACRS: 0x4, CRS: 0x8, ARCH0: 0x10, PFAULT: 0x20, VRS: 0x40, RICCB: 0x80,
      FPRS: 0x100, GSCB: 0x200, BPBC: 0x400, ETOKEN: 0x800, DIAG318: 0x1000,
    });
  });
  it('kvm_run offsets (docs/memop-semantics.md §1.5)', () => {
    expect(KVM_RUN_OFFSET).toMatchObject({ exit_reason: 0x08, psw_mask: 0x20, psw_addr: 0x28, s390_sieic: 0x30, kvm_valid_regs: 0x130, kvm_dirty_regs: 0x138, prefix: 0x140, acrs: 0x1c8, crs: 0x208 });
  });
  it('struct sizes', () => {
    expect(STRUCT_SIZE).toMatchObject({ kvm_s390_mem_op: 64, kvm_s390_skeys: 64, kvm_sregs: 192, kvm_regs: 128, kvm_s390_psw: 16 });
  });
});

describe('program-interruption codes and errno (docs/memop-semantics.md §2, §13)', () => {
  const pgm: Array<[string, number]> = [
    ['PGM_PROTECTION', 0x04], ['PGM_ADDRESSING', 0x05], ['PGM_SEGMENT_TRANSLATION', 0x10],
    ['PGM_PAGE_TRANSLATION', 0x11], ['PGM_TRANSLATION_SPEC', 0x12], ['PGM_ALET_SPECIFICATION', 0x28],
    ['PGM_ALEN_TRANSLATION', 0x29], ['PGM_ALE_SEQUENCE', 0x2a], ['PGM_ASTE_VALIDITY', 0x2b],
    ['PGM_ASTE_SEQUENCE', 0x2c], ['PGM_EXTENDED_AUTHORITY', 0x2d], ['PGM_ASCE_TYPE', 0x38],
    ['PGM_REGION_FIRST_TRANS', 0x39], ['PGM_REGION_SECOND_TRANS', 0x3a], ['PGM_REGION_THIRD_TRANS', 0x3b],
  ];
  it.each(pgm)('%s = %i', (name, code) => {
    expect(pgmName(code)).toBe(name);
    expect(PGM[name.slice(4) as keyof typeof PGM]).toBe(code);
  });
  it('every PGM code is in the table', () => expect(Object.keys(PGM)).toHaveLength(pgm.length));
  it('errno values', () => {
    expect(ERRNO).toMatchObject({ EIO: 5, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EBUSY: 16, EINVAL: 22, ENOTTY: 25, ENOSYS: 38, EOPNOTSUPP: 95 });
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(4242)).toBe('E4242');
  });
});

describe('struct kvm_s390_mem_op codec (docs/memop-semantics.md §1.3)', () => {
  const m = {
    gaddr: 0x0102030405060708n, flags: 0x1112131415161718n, size: 0x21222324, op: 0x31323334,
    buf: 0x4142434445464748n, ar: 0x51, key: 0x52, oldAddr: 0x6162636465666768n,
  };
  const bigEndian = Uint8Array.from([
    1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x21, 0x22, 0x23, 0x24, 0x31, 0x32, 0x33, 0x34, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x51, 0x52, 0, 0, 0, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    ...new Array(16).fill(0),
  ]);
  it('big-endian image, as on s390x', () => {
    expect(encodeMemOp(m, 'big')).toEqual(bigEndian);
    expect(decodeMemOp(bigEndian, 'big')).toMatchObject(m);
  });
  it('little-endian image reverses each multi-byte field, not the bytes ar/key', () => {
    const le = encodeMemOp(m, 'little');
    expect(Array.from(le.subarray(0, 8))).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(le.subarray(16, 24))).toEqual([0x24, 0x23, 0x22, 0x21, 0x34, 0x33, 0x32, 0x31]);
    expect(Array.from(le.subarray(32, 34))).toEqual([0x51, 0x52]);
    expect(decodeMemOp(le, 'little')).toMatchObject(m);
  });
  it('sida_offset overlays ar (its most significant byte on s390x) and key', () => {
    const be = encodeMemOp({ ...m, ar: 0, key: 0, sidaOffset: 0x000001c0 }, 'big');
    expect(Array.from(be.subarray(32, 36))).toEqual([0, 0, 1, 0xc0]);
    const withAr = encodeMemOp({ ...m, sidaOffset: 0x51520000 }, 'big');
    expect(decodeMemOp(withAr, 'big')).toMatchObject({ ar: 0x51, key: 0x52 });
  });
  it('host byte order is detected', () => {
    expect(['big', 'little']).toContain(HOST_BYTE_ORDER);
    expect(HOST_BYTE_ORDER).toBe(process.arch === 's390x' ? 'big' : 'little');
  });
});

describe('struct kvm_s390_skeys and kvm_sregs codecs (docs/memop-semantics.md §1.5)', () => {
  it('skeys big-endian image', () => {
    const s = { startGfn: 0x10n, count: 0x20n, skeydataAddr: 0x30n, flags: 0x40 };
    const be = encodeSkeys(s, 'big');
    expect(be[7]).toBe(0x10);
    expect(be[15]).toBe(0x20);
    expect(be[23]).toBe(0x30);
    expect(be[27]).toBe(0x40);
    expect(be.length).toBe(64);
    expect(decodeSkeys(be, 'big')).toEqual(s);
    expect(decodeSkeys(encodeSkeys(s, 'little'), 'little')).toEqual(s);
    expect(encodeSkeys(s, 'little')[24]).toBe(0x40);
  });
  it('sregs: 16 ARs then 16 CRs', () => {
    const acrs = Array.from({ length: 16 }, (_, i) => i + 1);
    const crs = Array.from({ length: 16 }, (_, i) => BigInt(i) << 56n);
    const be = encodeSregs({ acrs, crs }, 'big');
    expect(be.length).toBe(192);
    expect(be[3]).toBe(1);
    expect(be[63]).toBe(16);
    expect(be[64 + 8]).toBe(1);
    expect(decodeSregs(be, 'big')).toEqual({ acrs, crs });
  });
});

describe('u64 flags without BigInt', () => {
  it('recognises bits beyond 32 in numbers and bigints', () => {
    expect(hasFlagsOutside(2 ** 40, 7)).toBe(true);
    expect(hasFlagsOutside(1n << 63n, 7)).toBe(true);
    expect(hasFlagsOutside(5, 7)).toBe(false);
    expect(hasFlagsOutside(8, 7)).toBe(true);
    expect(hasFlag(2 ** 40 + 4, 4)).toBe(true);
    expect(hasFlag(4n, 4)).toBe(true);
    expect(hasFlag(2n, 4)).toBe(false);
  });
});
