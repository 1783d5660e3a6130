// The C++ ABI (native/abi.h, as compiled into the addon) and the TypeScript ABI (src/abi)
// must agree number for number and byte for byte, on every architecture the addon runs on.
// Under the emulated s390x Node this runs big-endian.
import { describe, expect, it } from 'vitest';
import {
  CAP,
  CMPXCHG_MAX_SIZE,
  GET_SKEYS_NONE,
  IOCTL,
  KEYOP,
  KEYOP_OFFSET,
  KVM_RUN_OFFSET,
  MEMOP,
  MEMOP_EXT,
  MEMOP_F,
  MEM_OP_MAX_SIZE,
  MEM_OP_OFFSET,
  MEMSLOT_ALIGNMENT,
  SKEYS_MAX,
  SKEYS_OFFSET,
  SREGS_OFFSET,
  STRUCT_SIZE,
  SYNC,
} from '../src/abi/constants.js';
import { HOST_BYTE_ORDER, decodeMemOp, encodeMemOp, type MemOpStruct } from '../src/abi/structs.js';
import { loadAddon } from '../src/kvm/loader.js';
import { CHANNEL_LAYOUT, MemOpDescriptor } from '../src/kvm/descriptor.js';

const addon = loadAddon();
const abi = addon.abi();

describe(`native ABI agrees with src/abi (${abi.arch}, ${abi.byteOrder}-endian)`, () => {
  it('was built for the architecture and byte order it runs on', () => {
    expect(abi.arch).toBe(process.arch);
    expect(abi.byteOrder).toBe(HOST_BYTE_ORDER);
    // Proven at compile time against the build host's <linux/kvm.h> (static_asserts).
    expect(abi.checkedAgainstHeader).toBe(true);
    expect(abi.checkedAgainstS390Header).toBe(process.arch === 's390x');
  });

  it('ioctl numbers', () => {
    for (const [name, value] of Object.entries(abi.ioctl)) {
      expect(IOCTL[name as keyof typeof IOCTL], name).toBe(value);
    }
    expect(Object.keys(abi.ioctl).length).toBeGreaterThanOrEqual(17);
  });

  it('capabilities', () => {
    expect(abi.cap).toEqual({ ...CAP });
  });

  it('memop ops, flags and extension bits', () => {
    expect(abi.memop).toEqual({ ...MEMOP });
    expect(abi.memopFlags).toEqual({ ...MEMOP_F });
    expect(abi.memopExtension).toEqual({ ...MEMOP_EXT });
  });

  it('KVM_S390_KEYOP: ioctl, operations and struct kvm_s390_keyop', () => {
    expect(abi.ioctl.S390_KEYOP).toBe(IOCTL.S390_KEYOP);
    expect(IOCTL.S390_KEYOP).toBe(0xc010ae53);
    expect(abi.keyop).toEqual({ ...KEYOP });
    expect(abi.sizes.kvm_s390_keyop).toBe(16);
    expect(abi.offsets.kvm_s390_keyop).toEqual({ ...KEYOP_OFFSET });
  });

  it('sync-register bits', () => {
    expect(abi.sync).toEqual({ ...SYNC });
  });

  it('limits', () => {
    expect(abi.limits).toMatchObject({
      MEM_OP_MAX_SIZE,
      CMPXCHG_MAX_SIZE,
      SKEYS_MAX,
      GET_SKEYS_NONE,
      MEMSLOT_ALIGNMENT,
    });
  });

  it('memop channel layout', () => {
    expect(abi.channel).toEqual({ ...CHANNEL_LAYOUT });
  });

  it('struct sizes', () => {
    for (const [name, size] of Object.entries(abi.sizes)) {
      expect(STRUCT_SIZE[name as keyof typeof STRUCT_SIZE], name).toBe(size);
    }
  });

  it('struct offsets', () => {
    expect(abi.offsets.kvm_s390_mem_op).toEqual({ ...MEM_OP_OFFSET });
    expect(abi.offsets.kvm_s390_skeys).toEqual({ ...SKEYS_OFFSET });
    expect(abi.offsets.kvm_sregs).toEqual({ ...SREGS_OFFSET });
    expect(abi.offsets.kvm_run).toEqual({ ...KVM_RUN_OFFSET });
  });
});

describe('struct kvm_s390_mem_op bytes: encodeMemOp(HOST_BYTE_ORDER) = the C struct', () => {
  const cases: Array<MemOpStruct & { name: string }> = [
    { name: 'all zero', gaddr: 0n, flags: 0n, size: 0, op: 0, buf: 0n, ar: 0, key: 0, oldAddr: 0n },
    {
      name: 'every byte distinct',
      gaddr: 0x0102030405060708n,
      flags: 0x1112131415161718n,
      size: 0x21222324,
      op: 0x31323334,
      buf: 0x4142434445464748n,
      ar: 0x51,
      key: 0x52,
      oldAddr: 0x6162636465666768n,
    },
    { name: 'max values', gaddr: 2n ** 64n - 1n, flags: 2n ** 64n - 1n, size: 0xffffffff, op: 0xffffffff, buf: 2n ** 64n - 1n, ar: 255, key: 255, oldAddr: 2n ** 64n - 1n },
    { name: 'SIDA offset overlays ar/key', gaddr: 0x1000n, flags: 0n, size: 16, op: MEMOP.SIDA_READ, buf: 0n, ar: 0, key: 0, sidaOffset: 0x0a0b0c0d, oldAddr: 0n },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const native = addon.encodeMemOpForTest(c.gaddr, c.flags, c.size, c.op, c.buf, c.ar, c.key, c.oldAddr, c.sidaOffset);
      expect(Buffer.from(native).toString('hex')).toBe(Buffer.from(encodeMemOp(c, HOST_BYTE_ORDER)).toString('hex'));
    });
  }

  it('the memop path hands the kernel the descriptor plus the buffers\' addresses', () => {
    const desc = new MemOpDescriptor();
    const buf = new Uint8Array(32);
    const req = { op: MEMOP.LOGICAL_WRITE, gaddr: 0x123456789an, size: 32, flags: MEMOP_F.SKEY_PROTECTION, buf, key: 9, ar: 3, sidaOffset: 0, old: null };
    const bytes = addon.memopStructForTest(0, desc.fill(req), buf, null);
    const s = decodeMemOp(bytes, HOST_BYTE_ORDER);
    expect(s).toMatchObject({ gaddr: 0x123456789an, flags: 4n, size: 32, op: 1, ar: 3, key: 9, oldAddr: 0n });
    expect(s.buf).not.toBe(0n); // a real pointer into buf's memory
    // Everything but the pointer is what encodeMemOp lays out.
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(encodeMemOp({ ...s }, HOST_BYTE_ORDER)).toString('hex'));

    const flags64 = 2n ** 63n + 1n;
    const sida = { ...req, op: MEMOP.SIDA_WRITE, flags: flags64, sidaOffset: 0x01020304, buf: null };
    const s2 = decodeMemOp(addon.memopStructForTest(0, desc.fill(sida), null, null), HOST_BYTE_ORDER);
    expect(s2).toMatchObject({ flags: flags64, op: 3, sidaOffset: 0x01020304, buf: 0n, oldAddr: 0n });
    // A number flags value above 2^32 is split into the two halves correctly.
    const s3 = decodeMemOp(addon.memopStructForTest(0, desc.fill({ ...req, flags: 2 ** 40 + 5 }), buf, null), HOST_BYTE_ORDER);
    expect(s3.flags).toBe(2n ** 40n + 5n);
  });
});
