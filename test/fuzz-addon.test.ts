// Every function the native addon exports, called with arbitrary JS values (issue 6): the
// process stays alive and every call returns a value of the documented kind or throws a typed
// error (TypeError ERR_INVALID_ARG_TYPE, RangeError ERR_OUT_OF_RANGE, or the mapping's
// ERR_INVALID_STATE after unmap). Also: no fd leaks over 10,000 open/close cycles.
//
// Safety of the test itself: a random small integer in an fd position could be one of this
// process's own descriptors (stdout, the worker's IPC channel), so every non-negative integer
// that could be an open fd is replaced by a /dev/null descriptor owned by the test, and close()
// only ever receives a descriptor opened for that very call (or an invalid one).
import { closeSync, openSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../src/index.js';
import { loadAddon } from '../src/kvm/loader.js';
import { CHANNEL_LAYOUT } from '../src/kvm/descriptor.js';
import type { NativeAddon, NativeMapping, NativeMemOpChannel } from '../src/kvm/native.js';
import { FUZZ_SEED, fcParams, junk } from './fuzz-support.js';

let addon: NativeAddon | null = null;
let skipReason = '';
try {
  addon = loadAddon();
} catch (err) {
  skipReason = `addon not loadable: ${String((err as Error).message).split('\n')[1] ?? err}`;
}

const ADDON_ERROR_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_STATE', 'ERR_BUFFER_OUT_OF_BOUNDS']);

function typedAddonError(err: unknown): string {
  if ((err instanceof TypeError || err instanceof RangeError || err instanceof Error) && typeof (err as { code?: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    if (ADDON_ERROR_CODES.has(code)) return `${(err as Error).name} ${code}`;
  }
  throw new Error(`the addon let an untyped error escape: ${err instanceof Error ? `${err.name} (code ${String((err as { code?: unknown }).code)}): ${err.message}` : String(err)}`);
}

type Slot = 'fd' | 'closeFd' | 'u32' | 'u64' | 'bytes' | 'bytesOrNull' | 'desc' | 'path' | 'mapping' | 'iterations' | 'size' | 'reset' | 'any';

/** The parameter kinds of every export (src/kvm/native.ts). */
const SIGNATURES: Record<string, Slot[]> = {
  openDevice: ['path'],
  close: ['closeFd'],
  getApiVersion: ['fd'],
  checkExtension: ['fd', 'u32'],
  createVm: ['fd', 'u32'],
  getVcpuMmapSize: ['fd'],
  createVcpu: ['fd', 'u32'],
  mmapGuest: ['size'],
  mmapVcpu: ['fd', 'fd'],
  setUserMemoryRegion: ['fd', 'u32', 'u32', 'u64', 'mapping'],
  run: ['fd'],
  reset: ['fd', 'reset'],
  getSregs: ['fd', 'bytes'],
  getCpuProcessor: ['fd', 'bytes'],
  setSregs: ['fd', 'bytes'],
  getIrqState: ['fd', 'bytes'],
  setIrqState: ['fd', 'bytes'],
  memop: ['fd', 'desc', 'bytesOrNull', 'bytesOrNull'],
  memopLoop: ['fd', 'desc', 'bytesOrNull', 'bytesOrNull', 'iterations'],
  memopStructForTest: ['fd', 'desc', 'bytesOrNull', 'bytesOrNull'],
  createMemOpChannel: ['fd'],
  /** On a channel made once (its descriptor's size changes between calls), or a junk id. */
  channelMemop: ['channel', 'bytesOrNull', 'bytesOrNull'],
  getSkeys: ['fd', 'u64', 'u64', 'bytes', 'u32'],
  setSkeys: ['fd', 'u64', 'bytes', 'u32'],
  keyop: ['fd', 'u64', 'u32', 'u32'],
  abi: [],
  encodeMemOpForTest: ['u64', 'u64', 'u32', 'u32', 'u64', 'u32', 'u32', 'u64', 'u32'],
};

/** Arguments are described as data (printable counterexamples) and built right before the call. */
type ArgSpec = { t: 'junk'; v: unknown } | { t: 'plausible'; slot: Slot; n: number; len: number; variant: number };

const argSpec = (slot: Slot): fc.Arbitrary<ArgSpec> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('plausible' as const), slot: fc.constant(slot), n: fc.integer({ min: 0, max: 1 << 30 }), len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constantFrom(64, 72, 128, 192, 4096)), variant: fc.integer({ min: 0, max: 15 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('junk' as const), v: junk }) },
  );

interface Env {
  nullFd: number;
  channel: NativeMemOpChannel;
  mapping: NativeMapping;
  unmapped: NativeMapping;
  /** Descriptors opened for one call; closed after it unless the call closed them. */
  owned: number[];
  /** Mappings a call returned; unmapped after it. */
  made: NativeMapping[];
}

/** An fd position must never name one of the process's own descriptors. */
function sanitizeFd(v: unknown, env: Env, forClose: boolean): unknown {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31 - 1) return forClose ? -1 : env.nullFd;
  return v;
}

function bytes(len: number, variant: number): Uint8Array {
  switch (variant % 5) {
    case 0:
      return new Uint8Array(len);
    case 1:
      return new Uint8Array(new SharedArrayBuffer(len + 8), 8, len);
    case 2: {
      const ab = new ArrayBuffer(len);
      const u = new Uint8Array(ab);
      structuredClone(ab, { transfer: [ab] });
      return u; // detached
    }
    case 3:
      return Buffer.alloc(len);
    default:
      return new Uint8Array(new ArrayBuffer(len + 3), 3, len);
  }
}

function build(spec: ArgSpec, env: Env): unknown {
  if (spec.t === 'junk') return spec.v;
  const { slot, n, len, variant } = spec;
  switch (slot) {
    case 'fd':
      return variant < 12 ? env.nullFd : variant < 14 ? -1 : 2 ** 31 - 1;
    case 'closeFd': {
      if (variant < 10) {
        const fd = openSync('/dev/null', 'r');
        env.owned.push(fd);
        return fd;
      }
      return variant < 13 ? -1 : 2 ** 31 - 1;
    }
    case 'u32':
      return variant < 8 ? n % 300 : variant < 12 ? n : 0xffff_ffff;
    case 'u64':
      return variant < 6 ? n : variant < 10 ? BigInt(n) : variant < 12 ? (1n << 64n) - 1n : 2 ** 53 - 1;
    case 'bytes':
    case 'bytesOrNull':
      return slot === 'bytesOrNull' && variant >= 13 ? null : bytes(len, variant);
    case 'desc': {
      const d = bytes(variant < 12 ? 64 : len, variant < 10 ? 0 : variant);
      if (d.length >= 24) new DataView(d.buffer, d.byteOffset, d.length).setUint32(16, n % 70_000, true);
      return d;
    }
    case 'path':
      return ['/dev/null', '/nonexistent/kvm', '', 'a\0b', '/'.repeat(5000), '/dev/zero', '.', 'no-such-file'][variant % 8];
    case 'mapping':
      return variant < 8 ? env.mapping : variant < 12 ? env.unmapped : Object.create(Object.getPrototypeOf(env.mapping) as object);
    case 'channel':
      return variant < 12 ? env.channel.id : variant < 14 ? env.channel.id + 1 + n : -1;
    case 'iterations':
      return n % 64; // the C loop really loops: keep it short
    case 'size':
      return [1 << 20, 2 << 20, 0, 1, 2 ** 46, 2 ** 46 + (1 << 20), 2 ** 47, (1n << 64n) - 1n, 3 << 20, BigInt(1 << 20)][variant % 10];
    case 'reset':
      return variant % 5;
    default:
      return n;
  }
}

function checkResult(name: string, r: unknown, env: Env): string {
  if (name === 'channelMemop' && r === undefined) {
    // The result is in the channel's memory, after its descriptor.
    const result = new Int32Array(env.channel.shared, CHANNEL_LAYOUT.resultOffset, 1)[0]!;
    return result < 0 ? `-errno ${-result}` : 'ok';
  }
  if (typeof r === 'number') {
    if (!Number.isInteger(r)) throw new Error(`${name} returned the non-integer ${r}`);
    if (name === 'openDevice' && r >= 0) env.owned.push(r);
    return r < 0 ? `-errno ${-r}` : 'ok';
  }
  if (name === 'mmapGuest' || name === 'mmapVcpu') {
    const m = r as NativeMapping;
    if (typeof m !== 'object' || m === null || typeof m.unmap !== 'function') throw new Error(`${name} returned ${String(r)}`);
    env.made.push(m);
    return 'mapping';
  }
  if (name === 'memopLoop' && Array.isArray(r) && typeof r[0] === 'bigint' && typeof r[1] === 'number') return 'loop';
  if ((name === 'memopStructForTest' || name === 'encodeMemOpForTest') && r instanceof Uint8Array && r.length === 64) return 'struct';
  if (name === 'abi' && typeof r === 'object' && r !== null) return 'abi';
  if (name === 'createMemOpChannel') {
    const c = r as NativeMemOpChannel;
    if (!(c.shared instanceof ArrayBuffer) || c.shared.byteLength !== CHANNEL_LAYOUT.size || !Number.isInteger(c.id)) throw new Error(`${name} returned ${String(r)}`);
    return 'channel';
  }
  throw new Error(`${name} returned an unexpected ${typeof r}: ${String(r)}`);
}

function listFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe.skipIf(addon === null)(`native addon fuzzing (seed ${FUZZ_SEED})${skipReason ? ` — skipped: ${skipReason}` : ''}`, () => {
  let env: Env;
  const outcomes = new Map<string, number>();

  beforeAll(() => {
    const a = addon!;
    const mapping = a.mmapGuest(1 << 20);
    const unmapped = a.mmapGuest(1 << 20);
    if (typeof mapping === 'number' || typeof unmapped === 'number') throw new Error('mmapGuest failed');
    unmapped.unmap();
    const nullFd = openSync('/dev/null', 'r');
    env = { nullFd, channel: a.createMemOpChannel(nullFd), mapping, unmapped, owned: [], made: [] };
  });

  afterAll(() => {
    env.mapping.unmap();
    closeSync(env.nullFd);
    const lines = [...outcomes].sort((x, y) => y[1] - x[1]).map(([k, n]) => `  ${String(n).padStart(7)}  ${k}`);
    console.log(`addon fuzz: ${[...outcomes.values()].reduce((x, y) => x + y, 0)} calls (seed ${FUZZ_SEED}):\n${lines.join('\n')}`);
  });

  it('every export: arbitrary arguments give a documented value or a typed error', () => {
    const names = Object.keys(SIGNATURES);
    const arb = fc.constantFrom(...names).chain((name) =>
      fc.record({
        name: fc.constant(name),
        // Right arity, or one argument too few / too many.
        args: fc.tuple(...SIGNATURES[name]!.map(argSpec), argSpec('any')).map((t) => t as ArgSpec[]),
        arity: fc.constantFrom(0, 0, 0, 0, -1, 1),
      }),
    );
    fc.assert(
      fc.property(arb, ({ name, args, arity }) => {
        const slots = SIGNATURES[name]!;
        const count = Math.max(0, slots.length + arity);
        const values = args.slice(0, count).map((spec, i) => {
          const v = build(spec, env);
          const slot = slots[i];
          if (spec.t === 'junk' && (slot === 'fd' || slot === 'closeFd')) return sanitizeFd(v, env, slot === 'closeFd');
          // The C loop really loops: a junk iteration count of 2^31 would run for an hour.
          if (spec.t === 'junk' && slot === 'iterations' && typeof v === 'number' && v > 64 && v <= 0xffff_ffff) return 64;
          return v;
        });
        let label: string;
        try {
          if (name === 'channelMemop') new DataView(env.channel.shared).setUint32(16, (outcomes.size * 7919) % 70_000, true);
          const fn = (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
          label = checkResult(name, fn(...values), env);
        } catch (err) {
          label = typedAddonError(err);
        } finally {
          for (const fd of env.owned.splice(0)) {
            try {
              closeSync(fd);
            } catch {
              // closed by the call under test
            }
          }
          for (const m of env.made.splice(0)) m.unmap();
        }
        const key = `${name}: ${label}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
      fcParams(300, 11),
    );
  });

  it('mapping methods: arbitrary offsets and values, before and after unmap', () => {
    const arb = fc.record({
      method: fc.constantFrom('readU64', 'writeU64', 'readU32', 'writeU32', 'unmap'),
      which: fc.constantFrom('mapped', 'mapped', 'mapped', 'unmapped'),
      offset: fc.oneof(fc.integer({ min: 0, max: (1 << 20) + 16 }), fc.constantFrom((1 << 20) - 8, (1 << 20) - 4, (1 << 20) - 7, 1 << 20, 2 ** 32 - 1, 2 ** 32, -8), junk),
      value: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 0xffff_ffff }), junk),
    });
    fc.assert(
      fc.property(arb, ({ method, which, offset, value }) => {
        const m = which === 'mapped' ? env.mapping : env.unmapped;
        if (method === 'unmap' && which === 'mapped') return; // keep the shared mapping
        let label: string;
        try {
          const r = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!.call(m, offset, value);
          if (!(r === undefined || typeof r === 'number' || typeof r === 'bigint')) throw new Error(`${method} returned ${String(r)}`);
          label = 'ok';
        } catch (err) {
          label = typedAddonError(err);
        }
        const key = `mapping.${method} (${which}): ${label}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
      fcParams(300, 12),
    );
  });

  it('no fd leaks: 10,000 open/close cycles of the addon (vm over an fd, mappings) leave the fd count unchanged', () => {
    const a = addon!;
    const before = listFds();
    for (let i = 0; i < 10_000; i++) {
      const fd = a.openDevice('/dev/null');
      expect(fd).toBeGreaterThanOrEqual(0);
      a.memop(fd, new Uint8Array(64), null, null);
      const m = a.mmapGuest(1 << 20);
      if (typeof m !== 'number') m.unmap();
      expect(a.close(fd)).toBe(0);
    }
    expect(listFds()).toBe(before);
  });
});

describe('no fd leaks, emulated backend', () => {
  it('10,000 backend/vm/vcpu create/close cycles leave the fd count unchanged', () => {
    const before = listFds();
    for (let i = 0; i < 10_000; i++) {
      const b = openBackend({ kind: 'emulated' });
      const vm = b.createVm({ memorySize: 1n << 20n });
      const vcpu = vm.createVcpu(0);
      vcpu.close();
      vm.close();
      b.close();
    }
    expect(listFds()).toBe(before);
  });
});


