// The kvm backend's bookkeeping of fds and guest memory, driven through a scripted addon so it
// runs on every host: what a refused createVm leaves behind. (test/real-kvm.test.ts covers the
// same handles against a real kernel, finalizers included.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CAP, CPU_PROCESSOR_FAC_LIST_OFFSET, ERRNO, FACILITY } from '../src/abi/constants.js';

const DEVICE_FD = 100;
const VM_FD = 101;

/** An addon whose /dev/kvm and VM answer like an s390x host with EDAT-1 and EDAT-2. */
function scriptedAddon() {
  const closed: number[] = [];
  let unmaps = 0;
  const addon = {
    openDevice: () => DEVICE_FD,
    getApiVersion: () => 12,
    checkExtension: (_fd: number, cap: number) => (cap === CAP.S390_MEM_OP ? 65536 : 0),
    createVm: () => VM_FD,
    mmapGuest: (size: bigint | number) => ({
      size: Number(size),
      get mapped() {
        return unmaps === 0;
      },
      unmap() {
        unmaps++;
        return 0;
      },
    }),
    setUserMemoryRegion: () => 0,
    // Every VM handle makes its memop channel when it is built; this VM never issues a memop.
    createMemOpChannel: () => ({ id: 0, shared: new ArrayBuffer(72) }),
    channelMemop: () => {},
    getCpuProcessor: (_fd: number, out: Uint8Array) => {
      // STFLE numbering: facility n is bit n of the list, most significant bit of byte 0 first.
      for (const n of [FACILITY.EDAT1, FACILITY.EDAT2]) out[CPU_PROCESSOR_FAC_LIST_OFFSET + (n >> 3)]! |= 0x80 >> (n & 7);
      return 0;
    },
    close: (fd: number) => {
      closed.push(fd);
      return 0;
    },
  };
  return { addon, closed, unmaps: () => unmaps };
}

afterEach(() => {
  vi.doUnmock('../src/kvm/loader.js');
  vi.resetModules();
});

describe('a createVm the kvm backend refuses', () => {
  it('closes the vm fd and unmaps the memory once, and lets /dev/kvm close with the backend', async () => {
    const fake = scriptedAddon();
    vi.resetModules();
    vi.doMock('../src/kvm/loader.js', async (importOriginal) => ({
      ...(await importOriginal<typeof import('../src/kvm/loader.js')>()),
      loadAddon: () => fake.addon,
    }));
    const { openKvmBackend } = await import('../src/kvm/backend.js');
    const arch = Object.getOwnPropertyDescriptor(process, 'arch')!;
    Object.defineProperty(process, 'arch', { ...arch, value: 's390x' });
    let backend;
    try {
      backend = openKvmBackend();
    } finally {
      Object.defineProperty(process, 'arch', arch);
    }
    // Removing EDAT-1 is refused after the VM exists (its facilities are read from the VM).
    let refused: unknown;
    try {
      backend.createVm({ memorySize: 1n << 20n, facilities: { edat1: false, edat2: false } });
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ code: 'EOPNOTSUPP', errno: ERRNO.EOPNOTSUPP });
    expect(fake.closed).toEqual([VM_FD]);
    expect(fake.unmaps()).toBe(1);
    // No VM of this backend is open: closing it closes /dev/kvm (before the fix the refused VM
    // still counted as open, and its finalizer would later close fd 101 a second time).
    backend.close();
    expect(fake.closed).toEqual([VM_FD, DEVICE_FD]);
    expect(fake.unmaps()).toBe(1);
  });
});
