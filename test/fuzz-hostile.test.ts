// The hostile-caller property (issue 10). A memop descriptor and its buffers are built from
// getters, Proxies, Uint8Array subclasses whose methods call back into the library, own
// properties that lie about lengths, resizable and transferred buffers. Side effects (another
// memop, new storage keys, a new prefix, a detach, a shrink, new buffer contents) run from
// inside those callbacks. The same case then runs plainly on an identical second machine: the
// same side effects first (the ones that really ran, in their order), then the memop with the
// values the first call saw, in ordinary objects. The hostile call must end exactly like the
// plain one — result, guest memory, storage keys, pending interrupt, the bytes it read — or
// be a coded refusal that changed nothing but the side effects. On the kvm backend (the addon
// over a non-KVM fd) the same descriptors must be refused exactly when, and with the same code
// as, on the emulated one.
// ≥ 1,000 cases in `npm test`; `npm run fuzz` runs FUZZ_RUNS (100,000 by default).
import { closeSync, openSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MEMOP, MEMOP_F } from '../src/abi/constants.js';
import { Backend } from '../src/api/backend.js';
import { Vm } from '../src/api/vm.js';
import type { Vcpu } from '../src/api/vcpu.js';
import { KERNEL_PROFILES, type KernelProfile } from '../src/contract.js';
import { EmulatedBackend } from '../src/emulated/backend.js';
import type { EmulatedVm } from '../src/emulated/vm.js';
import { KvmError } from '../src/errors.js';
import { vmHandleOverFd } from '../src/kvm/backend.js';
import { loadAddon } from '../src/kvm/loader.js';
import { byteLengthOf, plainView } from '../src/typed-arrays.js';
import { FUZZ_SEED, fcParams, runsFor } from './fuzz-support.js';

const MEM = 1 << 20;
const PAGE = 4096;

// ---- the case, as data (so a failure prints readably) -----------------------------------------

type Action =
  | { do: 'write'; gaddr: number; fill: number }
  | { do: 'keys'; pfn: number; key: number }
  | { do: 'prefix'; prefix: number }
  | { do: 'reenter'; gaddr: number; key: number }
  | { do: 'detach' }
  | { do: 'shrink'; length: number }
  | { do: 'fill'; value: number };

type Field = 'op' | 'gaddr' | 'size' | 'flags' | 'buf' | 'key' | 'ar' | 'old';
const FIELDS: readonly Field[] = ['op', 'gaddr', 'size', 'flags', 'buf', 'key', 'ar', 'old'];

interface HostileCase {
  profile: KernelProfile;
  logical: boolean;
  op: number;
  gaddr: number;
  size: number;
  flags: number;
  key: number;
  ar: number;
  prefix: number;
  keys: { pfn: number; key: number }[];
  fill: number;
  /** How the descriptor is given: plain object with getters on some fields, or a Proxy. */
  descriptor: 'getters' | 'proxy';
  /** Fields read through a getter (or trap) that runs an action first. */
  trapped: { field: Field; action: Action | null }[];
  /** What the buffer is. */
  buffer: 'plain' | 'subclass' | 'own-lies' | 'proxy' | 'resizable' | 'transferred' | 'shared';
  /** An action run from the subclass's methods or the lying own getters, if any are ever called. */
  bufferAction: Action | null;
  extra: number;
}

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ do: fc.constant('write' as const), gaddr: fc.integer({ min: 0, max: MEM / 8 - 1 }).map((n) => n * 8), fill: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ do: fc.constant('keys' as const), pfn: fc.integer({ min: 0, max: 40 }), key: fc.integer({ min: 0, max: 15 }).map((k) => k << 4) }),
  fc.record({ do: fc.constant('prefix' as const), prefix: fc.integer({ min: 0, max: 60 }).map((n) => n * 0x2000) }),
  fc.record({ do: fc.constant('reenter' as const), gaddr: fc.integer({ min: 0, max: 40 }).map((n) => n * PAGE), key: fc.integer({ min: 0, max: 15 }) }),
  fc.constant({ do: 'detach' as const }),
  fc.record({ do: fc.constant('shrink' as const), length: fc.integer({ min: 0, max: 3 * PAGE }) }),
  fc.record({ do: fc.constant('fill' as const), value: fc.integer({ min: 0, max: 255 }) }),
);

const hostileCase: fc.Arbitrary<HostileCase> = fc
  .record({
    profile: fc.constantFrom(...KERNEL_PROFILES),
    logical: fc.boolean(),
    kind: fc.constantFrom('read', 'write', 'write', 'cmpxchg'),
    page: fc.integer({ min: 0, max: 40 }),
    offset: fc.integer({ min: 0, max: PAGE - 1 }),
    size: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 * PAGE + 1 }), fc.constantFrom(1, 2, 4, 8, 16)),
    checkOnly: fc.boolean(),
    keyed: fc.boolean(),
    key: fc.integer({ min: 0, max: 15 }),
    ar: fc.constantFrom(0, 0, 0, 1, 16),
    prefix: fc.integer({ min: 0, max: 60 }).map((n) => n * 0x2000),
    keys: fc.array(fc.record({ pfn: fc.integer({ min: 0, max: 40 }), key: fc.integer({ min: 0, max: 15 }).map((k) => (k << 4) | 0x08) }), { maxLength: 6 }),
    fill: fc.integer({ min: 0, max: 255 }),
    descriptor: fc.constantFrom('getters' as const, 'getters' as const, 'proxy' as const),
    trapped: fc.uniqueArray(fc.record({ field: fc.constantFrom(...FIELDS), action: fc.option(action, { freq: 2 }) }), { selector: (t) => t.field, maxLength: 4 }),
    buffer: fc.constantFrom('plain' as const, 'subclass' as const, 'subclass' as const, 'own-lies' as const, 'proxy' as const, 'resizable' as const, 'transferred' as const, 'shared' as const),
    bufferAction: fc.option(action, { freq: 3 }),
    extra: fc.integer({ min: 0, max: PAGE }),
  })
  .map((r) => {
    const cmpxchg = r.kind === 'cmpxchg' && !r.logical;
    const op = r.logical ? (r.kind === 'read' ? MEMOP.LOGICAL_READ : MEMOP.LOGICAL_WRITE) : r.kind === 'read' ? MEMOP.ABSOLUTE_READ : cmpxchg ? MEMOP.ABSOLUTE_CMPXCHG : MEMOP.ABSOLUTE_WRITE;
    const size = cmpxchg ? [1, 2, 4, 8, 16][r.size % 5]! : r.size;
    const offset = cmpxchg ? r.offset - (r.offset % size) : r.offset;
    const flags = (r.checkOnly && !cmpxchg ? MEMOP_F.CHECK_ONLY : 0) | (r.keyed ? MEMOP_F.SKEY_PROTECTION : 0);
    return {
      profile: r.profile,
      logical: r.logical,
      op,
      gaddr: r.page * PAGE + offset,
      size,
      flags,
      key: r.key,
      ar: r.ar,
      prefix: r.prefix,
      keys: r.keys,
      fill: r.fill,
      descriptor: r.descriptor,
      trapped: r.trapped,
      buffer: r.buffer,
      bufferAction: r.bufferAction,
      extra: r.extra,
    };
  });

// ---- two machines ----------------------------------------------------------------------------

interface World {
  backend: Backend;
  /** The model's own VM, to read all of memory and every key directly. */
  model: EmulatedVm;
  vm: Vm;
  vcpu: Vcpu;
}

function world(c: HostileCase): World {
  const backend = new Backend(new EmulatedBackend(c.profile, 'hostile fuzz'));
  const model = new EmulatedBackend(c.profile, 'hostile fuzz').createVm({ memorySize: BigInt(MEM) }) as EmulatedVm;
  const vm = new Vm(model, BigInt(MEM));
  const vcpu = vm.createVcpu(0);
  const content = new Uint8Array(3 * PAGE);
  for (let i = 0; i < content.length; i++) content[i] = (c.fill + i * 7) & 0xff;
  model.storage.writeRange((c.gaddr & ~(PAGE - 1)) % (MEM - 3 * PAGE), content, 0, content.length);
  for (const k of c.keys) vm.setStorageKeys(k.pfn, Uint8Array.of(k.key));
  // DAT off, 64-bit addressing: real addresses, prefixed.
  vcpu.setState({ psw: { mask: 0x0000_0001_8000_0000n, addr: 0n }, prefix: c.prefix });
  return { backend, model, vm, vcpu };
}

/** What a machine holds: all of memory, all keys, the pending interrupt. */
function state(w: World): { memory: Uint8Array; keys: string; pending: string } {
  const memory = new Uint8Array(MEM);
  w.model.storage.readRange(0, memory, 0, MEM);
  let keys = '';
  for (let pfn = 0; pfn < MEM / PAGE; pfn++) keys += w.model.keys.get(pfn).toString(16).padStart(2, '0');
  const p = w.vcpu.pendingProgramInterrupt();
  return { memory, keys: `${w.model.keys.usesKeys}:${keys}`, pending: p === null ? 'none' : `${p.code}/${p.teid}/${p.accessId}` };
}

/** The side effects a callback runs; `buffer` is the case's hostile buffer (its ArrayBuffer). */
function perform(a: Action, w: World, target: { buffer: ArrayBufferLike | null; view: Uint8Array | null }): void {
  try {
    act(a, w, target);
  } catch (err) {
    // A side effect the kernel refuses (an absolute write on a pre-5.18 VM) is still no error of ours.
    if (!(err instanceof KvmError)) throw err;
  }
}

function act(a: Action, w: World, target: { buffer: ArrayBufferLike | null; view: Uint8Array | null }): void {
  switch (a.do) {
    case 'write':
      w.vm.write(BigInt(a.gaddr), new Uint8Array(8).fill(a.fill));
      return;
    case 'keys':
      w.vm.setStorageKeys(a.pfn, Uint8Array.of(a.key));
      return;
    case 'prefix':
      w.vcpu.setState({ prefix: a.prefix });
      return;
    case 'reenter':
      // The attack of issue 10 item 1: another access, two pages, another key, mid-call.
      w.vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: BigInt(a.gaddr), size: 2 * PAGE, buf: new Uint8Array(2 * PAGE), flags: MEMOP_F.SKEY_PROTECTION, key: a.key });
      w.vcpu.clearPendingInterrupts();
      return;
    case 'detach':
      if (target.buffer !== null && !(target.buffer instanceof SharedArrayBuffer) && target.buffer.byteLength > 0) {
        structuredClone(target.buffer, { transfer: [target.buffer as ArrayBuffer] });
      }
      return;
    case 'shrink': {
      const ab = target.buffer as (ArrayBuffer & { resizable?: boolean; resize?(n: number): void }) | null;
      if (ab !== null && ab.resizable === true && !(ab as { detached?: boolean }).detached) ab.resize!(Math.min(a.length, ab.byteLength));
      return;
    }
    case 'fill':
      if (target.view !== null) {
        try {
          Uint8Array.prototype.fill.call(target.view, a.value);
        } catch {
          // detached: nothing to fill
        }
      }
      return;
  }
}

// ---- building the hostile call ----------------------------------------------------------------

interface Built {
  desc: object;
  /** How often each descriptor field was read by the library. */
  reads: Map<string, number>;
  /** The buffer objects as the library sees them (possibly a Proxy). */
  bufView: Uint8Array | null;
  oldView: Uint8Array | null;
}

function bytesFor(c: HostileCase, length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 13) & 0xff;
  return b;
}

/**
 * Builds the hostile descriptor over `w`; every action that runs is appended to `log`, so the
 * plain run can replay exactly the side effects that happened.
 */
function buildHostile(c: HostileCase, w: World, log: Action[], runActions: boolean): Built {
  const length = c.size + c.extra;
  const initial = bytesFor(c, length, c.fill);
  const target: { buffer: ArrayBufferLike | null; view: Uint8Array | null } = { buffer: null, view: null };
  const run = (a: Action | null) => {
    if (a === null) return;
    log.push(a);
    if (runActions || a.do === 'detach' || a.do === 'shrink' || a.do === 'fill') perform(a, w, target);
  };
  let view: Uint8Array;
  let given: Uint8Array;
  switch (c.buffer) {
    case 'subclass': {
      const act = () => run(c.bufferAction);
      class Reentrant extends Uint8Array {
        static override get [Symbol.species](): typeof Uint8Array {
          act();
          return Uint8Array;
        }
        override set(...args: Parameters<Uint8Array['set']>): void {
          act();
          super.set(...args);
        }
        override subarray(begin?: number, end?: number): Uint8Array {
          act();
          return super.subarray(begin, end);
        }
        override fill(...args: Parameters<Uint8Array['fill']>): this {
          act();
          return super.fill(...args);
        }
        override slice(begin?: number, end?: number): Uint8Array {
          act();
          return super.slice(begin, end);
        }
        override get length(): number {
          act();
          return 1;
        }
      }
      view = new Reentrant(initial.length);
      Uint8Array.prototype.set.call(view, initial); // not the override: nothing may run yet
      given = view;
      break;
    }
    case 'own-lies': {
      view = initial.slice();
      for (const name of ['length', 'byteLength', 'byteOffset']) {
        Object.defineProperty(view, name, {
          get() {
            run(c.bufferAction);
            return 3;
          },
        });
      }
      given = view;
      break;
    }
    case 'proxy':
      view = initial.slice();
      given = new Proxy(view, {
        get(t, k) {
          run(c.bufferAction);
          const v = Reflect.get(t, k, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
      break;
    case 'resizable': {
      const ab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(length, { maxByteLength: length + 64 });
      view = new Uint8Array(ab);
      view.set(initial);
      given = view;
      break;
    }
    case 'transferred': {
      view = initial.slice();
      structuredClone(view.buffer, { transfer: [view.buffer] });
      given = view;
      break;
    }
    case 'shared': {
      view = new Uint8Array(new SharedArrayBuffer(length));
      view.set(initial);
      given = view;
      break;
    }
    default:
      view = initial.slice();
      given = view;
  }
  target.buffer = view.buffer;
  target.view = view;
  const old = c.op === MEMOP.ABSOLUTE_CMPXCHG ? bytesFor(c, c.size, c.fill ^ 0x5a) : null;
  const values: Record<Field, unknown> = {
    op: c.op,
    gaddr: BigInt(c.gaddr),
    size: c.size,
    flags: c.flags,
    buf: given,
    key: c.key,
    ar: c.ar,
    old: old ?? undefined,
  };
  const trappedFields = new Map(c.trapped.map((t) => [t.field, t.action]));
  const reads = new Map<string, number>();
  let desc: object;
  if (c.descriptor === 'proxy') {
    desc = new Proxy(
      {},
      {
        get(_t, k) {
          if (typeof k !== 'string' || !(k in values)) return undefined;
          const n = (reads.get(k) ?? 0) + 1;
          reads.set(k, n);
          if (trappedFields.has(k as Field)) run(trappedFields.get(k as Field) ?? null);
          // A second read would see something else entirely.
          return n === 1 ? values[k as Field] : 'second read';
        },
      },
    );
  } else {
    const d: Record<string, unknown> = {};
    for (const f of FIELDS) {
      if (!trappedFields.has(f)) {
        d[f] = values[f];
        continue;
      }
      Object.defineProperty(d, f, {
        enumerable: true,
        get() {
          const n = (reads.get(f) ?? 0) + 1;
          reads.set(f, n);
          run(trappedFields.get(f) ?? null);
          return n === 1 ? values[f] : 'second read';
        },
      });
    }
    desc = d;
  }
  return { desc, reads, bufView: view, oldView: old };
}

type Outcome = { ret: number } | { errno: string } | { refused: string };

const ARG_CODES = new Set(['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE', 'ERR_BUFFER_TOO_SMALL', 'ERR_INVALID_ARG_VALUE', 'ERR_BUFFER_OUT_OF_BOUNDS']);

function outcomeOf(f: () => number): Outcome {
  try {
    return { ret: f() };
  } catch (err) {
    if (err instanceof KvmError) return { errno: err.code };
    const code = (err as { code?: unknown }).code;
    if ((err instanceof TypeError || err instanceof RangeError) && typeof code === 'string' && ARG_CODES.has(code)) return { refused: code };
    throw new Error(`an uncoded error escaped a hostile call: ${err instanceof Error ? err.stack : String(err)}`);
  }
}

const tally = new Map<string, number>();
const count = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1);

/** The bytes `view` holds now, copied without asking the object anything (no species, no getters). */
function bytesOf(view: Uint8Array): Uint8Array {
  return plainView(view, 0, byteLengthOf(view)).slice();
}

function check(c: HostileCase, nativeVm: Vm | null): void {
  // The hostile call.
  const hostile = world(c);
  const log: Action[] = [];
  const built = buildHostile(c, hostile, log, true);
  const target = c.logical ? hostile.vcpu : hostile.vm;
  const got = outcomeOf(() => target.memop(built.desc as never));
  const ran = log.slice(); // callbacks that run after this (none should) are not side effects of the call
  for (const [field, n] of built.reads) expect(n, `descriptor.${field} was read ${n} times`).toBe(1);

  // The plain call on a twin machine: the side effects that ran, then ordinary objects.
  const plain = world(c);
  const plainTarget = { buffer: null, view: null };
  for (const a of ran) if (a.do !== 'detach' && a.do !== 'shrink' && a.do !== 'fill') perform(a, plain, plainTarget);
  const before = state(plain);
  count(`${c.buffer}/${c.descriptor}: ${JSON.stringify(got)}`);
  if ('refused' in got) {
    const after = state(hostile);
    expect(Buffer.compare(after.memory, before.memory), 'a refused call changed guest memory').toBe(0);
    expect(after.keys).toBe(before.keys);
  } else {
    // The hostile call went through: it must have seen a real Uint8Array holding ≥ size bytes.
    const view = built.bufView!;
    const bufBytes = new Uint8Array(c.size + c.extra);
    const live = bytesOf(view);
    bufBytes.set(live.subarray(0, Math.min(live.length, bufBytes.length)));
    // For a store, the plain call writes what the hostile buffer held when it was used: its
    // bytes now (a read changes them only where the plain read will, checked below).
    const isRead = c.op === MEMOP.ABSOLUTE_READ || c.op === MEMOP.LOGICAL_READ;
    const plainBuf = isRead ? new Uint8Array(live.length) : bufBytes.slice(0, Math.max(live.length, 0));
    const plainOld = built.oldView === null ? undefined : bytesFor(c, c.size, c.fill ^ 0x5a);
    const desc = { op: c.op, gaddr: BigInt(c.gaddr), size: c.size, flags: c.flags, buf: plainBuf, key: c.key, ar: c.ar, old: plainOld };
    const want = outcomeOf(() => (c.logical ? plain.vcpu : plain.vm).memop(desc));
    expect(got, `outcome differs from the plain snapshot's (side effects ${JSON.stringify(ran)})`).toEqual(want);
    const a = state(hostile);
    const b = state(plain);
    expect(Buffer.compare(a.memory, b.memory), 'guest memory differs from the plain call').toBe(0);
    expect(a.keys).toBe(b.keys);
    expect(a.pending).toBe(b.pending);
    if (isRead && 'ret' in want && want.ret === 0 && (c.flags & MEMOP_F.CHECK_ONLY) === 0) {
      expect(Buffer.from(bytesOf(view).subarray(0, c.size)).toString('hex'), 'the bytes read differ').toBe(Buffer.from(plainBuf.subarray(0, c.size)).toString('hex'));
    }
    if (built.oldView !== null && plainOld !== undefined) expect(Buffer.from(built.oldView).toString('hex')).toBe(Buffer.from(plainOld).toString('hex'));
  }
  hostile.backend.close();
  plain.backend.close();

  // The kvm backend (addon over a non-KVM fd) refuses the same descriptors with the same codes.
  if (nativeVm !== null && !c.logical) {
    const nativeLog: Action[] = [];
    const again = buildHostile(c, hostile, nativeLog, false);
    const native = outcomeOf(() => nativeVm.memop(again.desc as never));
    const emulatedAgain = (() => {
      const w = world(c);
      const b = buildHostile(c, w, [], false);
      const o = outcomeOf(() => w.vm.memop(b.desc as never));
      w.backend.close();
      return o;
    })();
    if ('refused' in emulatedAgain || 'refused' in native) expect(native, 'backends refuse differently').toEqual(emulatedAgain);
  }
}

// ---- the property --------------------------------------------------------------------------

function nativeVm(): { vm: Vm | null; close(): void } {
  try {
    loadAddon();
  } catch {
    return { vm: null, close: () => {} };
  }
  const fd = openSync('/dev/null', 'r');
  const vm = new Vm(vmHandleOverFd(fd));
  return {
    vm,
    close: () => {
      vm.close();
      try {
        closeSync(fd);
      } catch {
        // closed with the handle
      }
    },
  };
}

describe(`hostile callers (seed ${FUZZ_SEED})`, () => {
  afterAll(() => {
    const lines = [...tally].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => `  ${String(n).padStart(7)}  ${k}`);
    console.log(`hostile fuzz: ${[...tally.values()].reduce((a, b) => a + b, 0)} cases (seed ${FUZZ_SEED}), most frequent outcomes:\n${lines.join('\n')}`);
  });

  it(`getters, Proxies, re-entrant subclasses, resizable and transferred buffers: the plain snapshot's outcome or a coded refusal (${runsFor(1000)} cases)`, () => {
    const native = nativeVm();
    try {
      fc.assert(
        fc.property(hostileCase, (c) => check(c, native.vm)),
        fcParams(1000, 10),
      );
    } finally {
      native.close();
    }
  });
});
