// Regressions found by the fuzz tests (test/fuzz.test.ts), pinned down as plain tests.
import { describe, expect, it } from 'vitest';
import { MEMOP, openBackend } from '../src/index.js';

function detachedView(length: number): Uint8Array {
  const ab = new ArrayBuffer(length);
  const view = new Uint8Array(ab).fill(0xee);
  structuredClone(ab, { transfer: [ab] });
  return view;
}

describe('detached buffers after JIT warm-up with shared and resizable buffers', () => {
  // Node 20 (V8 11.3): once any buffer has been detached, optimized code that has seen views
  // over SharedArrayBuffers or resizable ArrayBuffers can read a detached view's old
  // `.length`. The argument check then let a memop run on a buffer that no longer exists:
  // a read returned 0 with nothing delivered, a write stored zeros into the guest.
  it('memops on a detached buffer are refused, whatever the call site has seen before', () => {
    using backend = openBackend({ kind: 'emulated' });
    using vm = backend.createVm({ memorySize: 1n << 20n });
    vm.write(0x1000n, new Uint8Array(16).fill(0x5a));
    detachedView(1); // any detach at all
    const shared = new Uint8Array(new SharedArrayBuffer(16));
    const resizable = new Uint8Array(new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(16, { maxByteLength: 64 }));
    const plain = new Uint8Array(16);
    for (let i = 0; i < 100_000; i++) {
      vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: 0x1000n, size: 16, buf: i % 3 === 0 ? shared : i % 3 === 1 ? resizable : plain });
    }
    for (const op of [MEMOP.ABSOLUTE_READ, MEMOP.ABSOLUTE_WRITE]) {
      const gone = detachedView(16);
      expect(() => vm.memop({ op, gaddr: 0x1000n, size: 16, buf: gone })).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }));
    }
    expect(vm.read(0x1000n, 16)).toEqual(new Uint8Array(16).fill(0x5a));
  });

  it('setStorageKeys with a detached buffer is EINVAL (0 keys), not an untyped TypeError', () => {
    using backend = openBackend({ kind: 'emulated' });
    using vm = backend.createVm({ memorySize: 1n << 20n });
    expect(() => vm.setStorageKeys(0, detachedView(8))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('range copies across pages that are contiguous in host memory', () => {
  // A short access (≤ 32 bytes) crossing into the next page, when both pages sat next to
  // each other in one slab, was copied byte by byte through the first page's view only: the
  // bytes past its end read as 0 and writes to them were dropped.
  it('a 7-byte read and write across a page boundary see and store every byte', () => {
    using backend = openBackend({ kind: 'emulated' });
    using vm = backend.createVm({ memorySize: 1n << 20n });
    const data = Uint8Array.from({ length: 8192 }, (_, i) => (i * 7 + 1) & 0xff);
    vm.write(0x10000n, data); // two pages, allocated one after the other
    expect(vm.read(0x10ffan, 7)).toEqual(data.subarray(0xffa, 0x1001));
    vm.write(0x10ffdn, Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect(vm.read(0x10ffdn, 6)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6));
  });
});
