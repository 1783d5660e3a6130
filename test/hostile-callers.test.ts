// Callers that use JavaScript's own tricks (issue 10): getters, Proxies, subclasses that call
// back in, buffers detached or resized mid-call, sparse and species-twisted arrays. Each test
// pins one hole that was open: the library read an argument twice, looked a length up on the
// caller's object, or ran the caller's code while an access was in flight.
import { describe, expect, it } from 'vitest';
import { MEMOP, MEMOP_F, PGM, openBackend, type Vcpu, type Vm } from '../src/index.js';
import { EmulatedBackend } from '../src/emulated/backend.js';
import type { EmulatedVm } from '../src/emulated/vm.js';
import type { MemOpRequest } from '../src/contract.js';
import { vmHandleOverFd } from '../src/kvm/backend.js';
import { loadAddon } from '../src/kvm/loader.js';
import { openSync, closeSync } from 'node:fs';

const code = (c: string) => expect.objectContaining({ code: c });

function resizable(length: number, max: number): ArrayBuffer & { resize(n: number): void } {
  return new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(length, { maxByteLength: max });
}

function detach(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
}

function emulatedVm(memory = 1n << 24n): { vm: Vm; close(): void } {
  const backend = openBackend({ kind: 'emulated' });
  const vm = backend.createVm({ memorySize: memory });
  return { vm, close: () => (vm.close(), backend.close()) };
}

describe('no access in flight can be changed by a re-entrant one', () => {
  it('a Uint8Array subclass whose methods run another memop mid-copy changes nothing: key-3 write of 8 KiB stops at the key-0x40 page', () => {
    const { vm, close } = emulatedVm();
    const writer = vm.createVcpu(0);
    const other = vm.createVcpu(1);
    vm.setStorageKeys(0x10, Uint8Array.of(0x30, 0x40)); // the write's two pages
    vm.setStorageKeys(0x21, Uint8Array.of(0x70)); // a page the write never addresses
    vm.write(0x21000n, new Uint8Array(4096).fill(0x77));
    let calls = 0;
    let reentered = false;
    class Reentrant extends Uint8Array {
      override subarray(begin?: number, end?: number): Uint8Array {
        calls++;
        if (!reentered) {
          reentered = true;
          // Another vcpu, no key, two pages: before the fix its state replaced the writer's.
          other.memop({ op: MEMOP.LOGICAL_READ, gaddr: 0x20000n, size: 8192, buf: new Uint8Array(8192) });
        }
        return super.subarray(begin, end);
      }
      override set(...args: Parameters<Uint8Array['set']>): void {
        calls++;
        super.set(...args);
      }
      override fill(...args: Parameters<Uint8Array['fill']>): this {
        calls++;
        return super.fill(...args);
      }
    }
    const data = new Reentrant(8192).fill(0xab);
    calls = 0;
    const r = writer.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: 0x10000n, size: 8192, buf: data, flags: MEMOP_F.SKEY_PROTECTION, key: 3 });
    expect(r).toBe(PGM.PROTECTION);
    expect(calls).toBe(0);
    expect(vm.read(0x10000n, 4096)).toEqual(new Uint8Array(4096).fill(0xab));
    expect(vm.read(0x11000n, 4096)).toEqual(new Uint8Array(4096));
    expect(vm.read(0x21000n, 4096)).toEqual(new Uint8Array(4096).fill(0x77));
    close();
  });

  it('two vcpus keep their own access state (no module-level scratch)', () => {
    const evm = new EmulatedBackend('newest', 'test').createVm({ memorySize: 1n << 20n }) as EmulatedVm;
    const h0 = evm.createVcpu(0, {}) as unknown as { logicalAccess: object };
    const h1 = evm.createVcpu(1, {}) as unknown as { logicalAccess: object };
    expect(h0.logicalAccess).not.toBe(h1.logicalAccess);
  });
});

describe('each descriptor field is read once, then checked, then used', () => {
  for (const field of ['key', 'ar', 'old', 'sidaOffset'] as const) {
    it(`a getter on "${field}" that detaches buf cannot make a write store zeros`, () => {
      const { vm, close } = emulatedVm();
      vm.write(0x1000n, new Uint8Array(16).fill(0x5a));
      const buf = new Uint8Array(16).fill(0xee);
      const desc = { op: MEMOP.ABSOLUTE_WRITE, gaddr: 0x1000n, size: 16, buf } as Record<string, unknown>;
      Object.defineProperty(desc, field, {
        enumerable: true,
        get() {
          detach(buf.buffer);
          return undefined;
        },
      });
      expect(() => vm.memop(desc as never)).toThrow(code('ERR_BUFFER_TOO_SMALL'));
      expect(vm.read(0x1000n, 16)).toEqual(new Uint8Array(16).fill(0x5a));
      close();
    });
  }

  it('a getter on "key" that shrinks a resizable buf cannot make a write store fewer bytes', () => {
    const { vm, close } = emulatedVm();
    const ab = resizable(64, 64);
    const buf = new Uint8Array(ab).fill(0x11);
    const desc = {
      op: MEMOP.ABSOLUTE_WRITE,
      gaddr: 0x2000n,
      size: 64,
      buf,
      get key() {
        ab.resize(8);
        return 0;
      },
    };
    expect(() => vm.memop(desc)).toThrow(code('ERR_BUFFER_TOO_SMALL'));
    expect(vm.read(0x2000n, 64)).toEqual(new Uint8Array(64));
    close();
  });

  it('a getter read twice before (ar/key with sidaOffset) is read once: its second answer never counts', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    let reads = 0;
    const desc = {
      op: MEMOP.LOGICAL_READ,
      gaddr: 0n,
      size: 8,
      buf: new Uint8Array(8),
      get ar() {
        reads++;
        return reads === 1 ? 0 : 200;
      },
    };
    expect(vcpu.memop(desc)).toBe(0);
    expect(reads).toBe(1);
    close();
  });

  it('cmpxchg: an "old" getter cannot detach "buf" after it was checked', () => {
    const { vm, close } = emulatedVm();
    const replacement = new Uint8Array(8).fill(0x99);
    const desc = {
      op: MEMOP.ABSOLUTE_CMPXCHG,
      gaddr: 0x3000n,
      size: 8,
      buf: replacement,
      get old() {
        detach(replacement.buffer);
        return new Uint8Array(8);
      },
    };
    expect(() => vm.memop(desc)).toThrow(code('ERR_BUFFER_TOO_SMALL'));
    expect(vm.read(0x3000n, 8)).toEqual(new Uint8Array(8));
    close();
  });
});

describe('lengths come from the engine, not from the caller object', () => {
  it('own "length"/"byteLength" properties neither truncate nor extend an access', () => {
    const { vm, close } = emulatedVm();
    const data = new Uint8Array(64).fill(0xcd);
    Object.defineProperty(data, 'length', { value: 48 });
    Object.defineProperty(data, 'byteLength', { value: 8 });
    expect(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: 0x4000n, size: 48, buf: data })).toBe(0);
    const stored = vm.read(0x4000n, 64);
    expect(stored.subarray(0, 48)).toEqual(new Uint8Array(48).fill(0xcd));
    expect(stored.subarray(48)).toEqual(new Uint8Array(16));
    // The helper takes the real length (64), whatever the object says.
    vm.write(0x5000n, data);
    expect(vm.read(0x5000n, 64)).toEqual(new Uint8Array(64).fill(0xcd));
    close();
  });

  it('a subclass with getters for length and byteLength is used as its real bytes', () => {
    const { vm, close } = emulatedVm();
    class Liar extends Uint8Array {
      override get length(): number {
        return 1;
      }
      override get byteLength(): number {
        return 1;
      }
    }
    const data = new Liar(40).fill(0x42);
    vm.write(0x6000n, data);
    expect(vm.read(0x6000n, 40)).toEqual(new Uint8Array(40).fill(0x42));
    close();
  });

  it('a Proxy of a Uint8Array is refused with ERR_INVALID_ARG_TYPE on both backends, and its traps never run', () => {
    const { vm, close } = emulatedVm();
    let traps = 0;
    const proxy = new Proxy(new Uint8Array(16), {
      get(target, key) {
        traps++;
        return Reflect.get(target, key);
      },
      getPrototypeOf(target) {
        traps++;
        return Reflect.getPrototypeOf(target);
      },
    });
    const fd = openSync('/dev/null', 'r');
    let native: Vm | undefined;
    try {
      loadAddon();
      native = new (vm.constructor as new (h: unknown) => Vm)(vmHandleOverFd(fd));
    } catch {
      closeSync(fd);
    }
    for (const target of native === undefined ? [vm] : [vm, native]) {
      expect(() => target.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: 0n, size: 16, buf: proxy })).toThrow(code('ERR_INVALID_ARG_TYPE'));
      expect(() => target.write(0n, proxy)).toThrow(code('ERR_INVALID_ARG_TYPE'));
      expect(() => target.setStorageKeys(0, proxy)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    }
    expect(traps).toBe(0);
    native?.close();
    close();
  });
});

describe('where memory is touched, a buffer smaller than the snapshot fails the same way on both backends', () => {
  const request = (buf: Uint8Array, old: Uint8Array | null = null): MemOpRequest => ({
    op: old === null ? MEMOP.ABSOLUTE_WRITE : MEMOP.ABSOLUTE_CMPXCHG,
    gaddr: 0x1000n,
    size: 8,
    flags: 0,
    buf,
    key: 0,
    ar: 0,
    sidaOffset: 0,
    old,
  });

  it('emulated handle: a buffer detached after the check is ERR_BUFFER_OUT_OF_BOUNDS and nothing is stored', () => {
    const handle = new EmulatedBackend('newest', 'test').createVm({ memorySize: 1n << 20n }) as EmulatedVm;
    const buf = new Uint8Array(8).fill(1);
    detach(buf.buffer);
    expect(() => handle.memop(request(buf))).toThrow(code('ERR_BUFFER_OUT_OF_BOUNDS'));
    const shrunk = new Uint8Array(resizable(8, 8));
    (shrunk.buffer as ArrayBuffer & { resize(n: number): void }).resize(4);
    expect(() => handle.memop(request(new Uint8Array(8), shrunk))).toThrow(code('ERR_BUFFER_OUT_OF_BOUNDS'));
    expect(handle.storage.touchedPages).toBe(0);
  });
});

describe('state updates are snapshots too', () => {
  it('a sparse cr array is refused and nothing of the update is applied', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    const before = vcpu.getState();
    expect(() => vcpu.setState({ prefix: 0x4000, cr: new Array(16) as bigint[] })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(vcpu.getState()).toEqual(before);
    vcpu.setState({ prefix: 0x6000 }); // still usable
    expect(vcpu.getState().prefix).toBe(0x6000);
    close();
  });

  it('an Array subclass with a Symbol.species Proxy cannot put strings or 2^100 into the state', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    class Twisted extends Array<bigint> {
      static override get [Symbol.species](): ArrayConstructor {
        return function () {
          return new Proxy([], {
            defineProperty(target, key, desc) {
              return Reflect.defineProperty(target, key, { ...desc, value: key === '3' ? 1n << 100n : 'x' });
            },
          });
        } as unknown as ArrayConstructor;
      }
    }
    const cr = Twisted.from(new Array<bigint>(16).fill(5n)) as unknown as bigint[];
    vcpu.setState({ cr });
    expect(vcpu.getState().cr).toEqual(new Array<bigint>(16).fill(5n));
    close();
  });

  it('a psw getter that answers differently each time is read once', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    let reads = 0;
    const update = {
      get psw() {
        reads++;
        return reads === 1 ? { mask: 0n, addr: 0x1234n } : null;
      },
    };
    vcpu.setState(update as never);
    expect(reads).toBe(1);
    expect(vcpu.getState().psw.addr).toBe(0x1234n);
    close();
  });
});

describe('uncoded errors get codes (item 10)', () => {
  it('null options, null or odd facilities, revoked Proxies', () => {
    const backend = openBackend({ kind: 'emulated' });
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    expect(() => vm.read(0n, 1, null as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vcpu.read(0n, 1, null as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => backend.createVm({ memorySize: 1n << 20n, facilities: null as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => backend.createVm({ memorySize: 1n << 20n, facilities: 5 as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => backend.createVm({ memorySize: 1n << 20n, facilities: { edat1: 'no' as never } })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => vm.memop(proxy as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vm.read(0n, 1, proxy as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vcpu.setState(proxy as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vcpu.setState({ cr: proxy as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vcpu.setState({ psw: proxy as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => backend.createVm(proxy as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 1, buf: proxy as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    close();
    backend.close();
  });
});

describe('vcpus as the kernel keeps them (items 5, 6, 8)', () => {
  it('sidaPages must be an integer 1..256', () => {
    const { vm, close } = emulatedVm();
    let id = 0;
    for (const bad of [0, 1.5, 257, -1, 1e9, Number.NaN]) {
      expect(() => vm.createVcpu(id++, { protected: true, sidaPages: bad })).toThrow(code('ERR_OUT_OF_RANGE'));
    }
    expect(() => vm.createVcpu(id++, { protected: true, sidaPages: '2' as never })).toThrow(code('ERR_INVALID_ARG_TYPE'));
    const vcpu = vm.createVcpu(id++, { protected: true, sidaPages: 256 });
    expect(() => vcpu.readSida(256 * 4096 - 1, 1)).not.toThrow();
    close();
  });

  it('a closed vcpu id stays taken until the VM goes: EEXIST', () => {
    const { vm, close } = emulatedVm();
    vm.createVcpu(3).close();
    expect(() => vm.createVcpu(3)).toThrow(code('EEXIST'));
    close();
  });

  it('closing the VM releases its storage once no vcpu is open; a closed vcpu drops its SIDA', () => {
    const backend = new EmulatedBackend('newest', 'test');
    const vm = backend.createVm({ memorySize: 1n << 24n }) as EmulatedVm;
    const vcpu = vm.createVcpu(0, { protected: true, sidaPages: 4 }) as unknown as { sida: Uint8Array | null; close(): void };
    const data = new Uint8Array(1 << 20).fill(1);
    expect(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: 0n, size: 65536, flags: 0, buf: data, key: 0, ar: 0, sidaOffset: 0, old: null })).toBe(0);
    expect(vm.storage.touchedPages).toBe(16);
    vm.close();
    expect(vm.storage.touchedPages).toBe(16); // an open vcpu keeps the guest, as in the kernel
    vcpu.close();
    expect(vcpu.sida).toBeNull();
    expect(vm.storage.touchedPages).toBe(0);
  });
});

describe('PageTableBuilder refuses what a table of its top level cannot map (item 7)', () => {
  const area = { start: 0x100000n, end: 0x200000n };
  it('refuses instead of aliasing, shrinking, guessing or wrapping', async () => {
    const { PageTableBuilder } = await import('../src/index.js');
    const { vm, close } = emulatedVm();
    const segment = new PageTableBuilder(vm, { tableArea: area, top: 'segment' });
    segment.map(0n, 4096, 0x300000n);
    // 0x80000000 has SX 0 again under a segment table: it would alias va 0.
    expect(() => segment.map(0x8000_0000n, 4096, 0x301000n)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => segment.map(0x7fff_f000n, 8192, 0x301000n)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => segment.map(0n, 0x8000_0000n, 0n, { frame: '2g' })).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(() => segment.map(0n, 4096, 0n, { frame: '2m' as never })).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(() => segment.map(0n, -4096, 0n)).toThrow(code('ERR_OUT_OF_RANGE'));
    const top = new PageTableBuilder(vm, { tableArea: { start: 0x200000n, end: 0x400000n } });
    expect(() => top.map(0xffff_ffff_ffff_f000n, 8192, 0x300000n)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => top.map(0x1000n, 8192, 0xffff_ffff_ffff_f000n)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => new PageTableBuilder(vm, { tableArea: area, top: 'region-zero' as never })).toThrow(code('ERR_INVALID_ARG_VALUE'));
    // What was mapped before still translates to its own frame.
    const vcpu = vm.createVcpu(0);
    vm.write(0x300000n, Uint8Array.of(0x11));
    vcpu.setState({ psw: { mask: 0x0400_0001_8000_0000n, addr: 0n }, cr: Array.from({ length: 16 }, (_, i) => (i === 1 ? segment.asce : 0n)) });
    expect(vcpu.read(0n, 1)).toEqual(Uint8Array.of(0x11));
    close();
  });
});

describe('the exported struct codecs check what they are given', () => {
  it('bad fields, orders and byte arrays are coded errors; each field is read once', async () => {
    const { encodeMemOp, decodeMemOp, encodeSkeys, decodeSkeys } = await import('../src/index.js');
    const fields = { gaddr: 1n, flags: 0n, size: 8, op: 0, buf: 0n, ar: 0, key: 0, oldAddr: 0n };
    expect(decodeMemOp(encodeMemOp(fields, 'big'), 'big')).toMatchObject(fields);
    expect(() => encodeMemOp({ ...fields, gaddr: -1n }, "big")).toThrow(code("ERR_OUT_OF_RANGE"));
    expect(() => encodeMemOp({ ...fields, size: 'x' as never }, 'big')).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => encodeMemOp(fields, 'middle' as never)).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(() => encodeMemOp(fields, 'big', new Uint8Array(8))).toThrow(code('ERR_BUFFER_TOO_SMALL'));
    expect(() => decodeMemOp(new Proxy(new Uint8Array(64), {}), 'big')).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => decodeSkeys(null as never, 'little')).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => encodeSkeys(null as never, 'little')).toThrow(code('ERR_INVALID_ARG_TYPE'));
    let reads = 0;
    const once = { ...fields, get gaddr() { reads++; return reads === 1 ? 5n : 'again'; } };
    expect(decodeMemOp(encodeMemOp(once as never, 'little'), 'little').gaddr).toBe(5n);
    expect(reads).toBe(1);
  });
});

describe('accesses above 64 KiB (one memop per chunk) run none of the caller\'s code', () => {
  /** A Uint8Array subclass that counts every method a split access could call on it. */
  function countingBuffer(length: number, fill: number): { data: Uint8Array; calls: () => number } {
    let calls = 0;
    class Counting extends Uint8Array {
      static override get [Symbol.species](): Uint8ArrayConstructor {
        calls++;
        return Uint8Array;
      }
      override subarray(begin?: number, end?: number): Uint8Array {
        calls++;
        return super.subarray(begin, end);
      }
      override slice(begin?: number, end?: number): Uint8Array {
        calls++;
        return super.slice(begin, end);
      }
    }
    const data = new Counting(length).fill(fill);
    calls = 0;
    return { data, calls: () => calls };
  }

  it('vm.write and vcpu.write of 192 KiB store every chunk without calling subarray or species; the key option is read once', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    for (const [target, fill, at] of [[vm, 0x5a, 0x100000n], [vcpu, 0xa5, 0x200000n]] as const) {
      const { data, calls } = countingBuffer(3 * 65536, fill);
      let keyReads = 0;
      const opts = {
        get key() {
          keyReads++;
          return keyReads === 1 ? 0 : 'again';
        },
      };
      target.write(at, data, opts as never);
      expect(calls()).toBe(0);
      expect(keyReads).toBe(1);
      expect(Buffer.from(vm.read(at, 3 * 65536)).equals(Buffer.alloc(3 * 65536, fill))).toBe(true);
    }
    close();
  });

  it('a split read answers into a plain Uint8Array of the whole length, filled chunk by chunk', () => {
    const { vm, close } = emulatedVm();
    const vcpu = vm.createVcpu(0);
    const pattern = new Uint8Array(2 * 65536 + 12);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7) & 0xff;
    vm.write(0x300000n, pattern);
    for (const source of [vm, vcpu]) {
      const got = source.read(0x300000n, pattern.length);
      expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype);
      expect(Buffer.from(got).equals(pattern)).toBe(true);
    }
    close();
  });
});
