// A scenario: a JSON list of steps over the public API (createVm, setStorageKeys, vm.memop,
// createVcpu, setState, vcpu.memop, …) that any backend can run. The differential mode
// generates them, compares what two backends answer step by step, and writes the shrunk
// scenario as a reproducer that `kvm-s390 replay` runs again.
import { KEYOP, MEMOP, MEMOP_F, PAGE_SIZE, pgmName } from '../abi/constants.js';
import type { Backend } from '../api/backend.js';
import type { Vcpu } from '../api/vcpu.js';
import type { Vm } from '../api/vm.js';
import type { MemOpDesc } from '../api/arguments.js';
import { KvmError } from '../errors.js';
import { digest, fromHex, hex, toHex } from './text.js';

/** A scenario file or step that cannot be run as written. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  readonly code = 'ERR_INVALID_SCENARIO';
}

export const SCENARIO_FORMAT = 'kvm-s390-scenario/1';

/**
 * Bytes of a user buffer: null is a NULL pointer; a string is hex; `repeat` repeats a hex
 * pattern up to `length` bytes; `base64` is the bytes themselves.
 */
export type BufSpec = null | string | { repeat: string; length: number } | { base64: string };

/** `struct kvm_s390_mem_op` with hex strings for u64 fields and BufSpecs for pointers. */
export interface MemOpSpec {
  op: number;
  gaddr: string;
  size: number;
  flags: string;
  key: number;
  ar: number;
  buf: BufSpec;
  old?: BufSpec;
}

export type Step =
  | { do: 'createVm'; vm: number; memorySize: string }
  | { do: 'setStorageKeys'; vm: number; startGfn: string; keys: string }
  | { do: 'getStorageKeys'; vm: number; startGfn: string; count: number }
  | { do: 'vm.memop'; vm: number; desc: MemOpSpec }
  | { do: 'keyop'; vm: number; operation: number; guestAddr: string; key: number }
  | { do: 'createVcpu'; vm: number; vcpu: number; id: number }
  | { do: 'setState'; vcpu: number; psw?: { mask: string; addr: string }; cr?: string[]; ar?: number[]; prefix?: string }
  | { do: 'vcpu.memop'; vcpu: number; desc: MemOpSpec };

export interface Scenario {
  format: typeof SCENARIO_FORMAT;
  /** Where it came from: `--seed` and the scenario's index in that run. */
  seed?: string;
  index?: number;
  steps: Step[];
}

/** What one step answered, in a form that compares with JSON.stringify. */
export type StepResult = Record<string, unknown>;

const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MEMOP).map(([k, v]) => [v, `KVM_S390_MEMOP_${k}`]));
const KEYOP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(KEYOP).map(([k, v]) => [v, `KVM_S390_KEYOP_${k}`]));
const FLAG_NAMES: [number, string][] = Object.entries(MEMOP_F).map(([k, v]) => [v, `KVM_S390_MEMOP_F_${k}`]);

export function opName(op: number): string {
  return OP_NAMES[op] ?? `op ${op}`;
}

export function flagNames(flags: bigint): string {
  const names: string[] = [];
  let rest = flags;
  for (const [bit, name] of FLAG_NAMES) {
    if ((flags & BigInt(bit)) !== 0n) {
      names.push(name);
      rest &= ~BigInt(bit);
    }
  }
  if (rest !== 0n) names.push(hex(rest));
  return names.join(' | ') || '0';
}

/** A short name for the kind of a step, used to group disagreements. */
export function stepKind(step: Step): string {
  if (step.do === 'vm.memop' || step.do === 'vcpu.memop') {
    const d = step.desc;
    const check = (BigInt(d.flags) & BigInt(MEMOP_F.CHECK_ONLY)) !== 0n ? '-check' : '';
    switch (d.op) {
      case MEMOP.ABSOLUTE_READ:
        return `absolute-read${check}`;
      case MEMOP.ABSOLUTE_WRITE:
        return `absolute-write${check}`;
      case MEMOP.ABSOLUTE_CMPXCHG:
        return 'absolute-cmpxchg';
      case MEMOP.LOGICAL_READ:
        return `logical-read${check}`;
      case MEMOP.LOGICAL_WRITE:
        return `logical-write${check}`;
      default:
        return `${step.do}-op${d.op}`;
    }
  }
  return step.do;
}

export function bufLength(spec: BufSpec | undefined): number {
  if (spec === null || spec === undefined) return 0;
  if (typeof spec === 'string') return spec.length / 2;
  if ('repeat' in spec) return spec.length;
  return Buffer.from(spec.base64, 'base64').length;
}

export function materialize(spec: BufSpec | undefined): Uint8Array | null {
  if (spec === null || spec === undefined) return null;
  if (typeof spec === 'string') return fromHex(spec, 'buf');
  if ('repeat' in spec) {
    const pattern = fromHex(spec.repeat, 'buf.repeat');
    const out = new Uint8Array(spec.length);
    if (pattern.length > 0) for (let i = 0; i < out.length; i++) out[i] = pattern[i % pattern.length]!;
    return out;
  }
  return new Uint8Array(Buffer.from(spec.base64, 'base64'));
}

/** The most compact BufSpec for `bytes`. */
export function bufSpecOf(bytes: Uint8Array): BufSpec {
  for (const period of [1, 2, 4, 8]) {
    if (bytes.length >= period * 4 && bytes.length % period === 0) {
      let repeats = true;
      for (let i = period; i < bytes.length && repeats; i++) repeats = bytes[i] === bytes[i - period];
      if (repeats) return { repeat: toHex(bytes.subarray(0, period)), length: bytes.length };
    }
  }
  return bytes.length <= 512 ? toHex(bytes) : { base64: Buffer.from(bytes).toString('base64') };
}

export function memopDesc(spec: MemOpSpec): MemOpDesc {
  return {
    op: spec.op,
    gaddr: BigInt(spec.gaddr),
    size: spec.size,
    flags: BigInt(spec.flags),
    key: spec.key,
    ar: spec.ar,
    buf: materialize(spec.buf),
    old: spec.old === undefined ? undefined : materialize(spec.old),
  };
}

/** The struct fields of a memop as a kernel developer reads them. */
export function describeMemop(spec: MemOpSpec): string[] {
  const lines = [
    `op       = ${spec.op} (${opName(spec.op)})`,
    `gaddr    = ${hex(BigInt(spec.gaddr))}`,
    `size     = ${spec.size} (${hex(spec.size)})`,
    `flags    = ${hex(BigInt(spec.flags))} (${flagNames(BigInt(spec.flags))})`,
    `ar       = ${spec.ar}`,
    `key      = ${spec.key}`,
    `buf      = ${spec.buf === null ? 'NULL' : `user buffer of ${bufLength(spec.buf)} bytes`}`,
  ];
  if (spec.op === MEMOP.ABSOLUTE_CMPXCHG) {
    lines.push(`old_addr = ${spec.old === null || spec.old === undefined ? 'NULL' : `user buffer of ${bufLength(spec.old)} bytes: ${toHex(materialize(spec.old)!)}`}`);
  }
  return lines;
}

/**
 * Largest guest a scenario may create: a logical write's outcome hashes all of guest memory,
 * and generated scenarios use 1–2 MiB.
 */
export const MAX_SCENARIO_MEMORY = 64 << 20;
/** Largest buffer a scenario may describe (beyond MEM_OP_MAX_SIZE, so E2BIG stays testable). */
const MAX_SCENARIO_BUFFER = 16 << 20;

/** A malformed scenario: the step and field, in one line. */
function malformed(source: string, where: string, what: string): ScenarioError {
  return new ScenarioError(`${source}: ${where}: ${what}`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 4096;
const isInteger = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isHexBytes = (v: unknown): boolean => typeof v === 'string' && v.length <= 2 * MAX_SCENARIO_BUFFER && /^([0-9a-f]{2})*$/i.test(v);

/** A u64 written as a decimal or 0x-hex string (or a safe integer number). */
function isU64Text(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0;
  if (typeof v !== 'string' || !/^(0x[0-9a-f]{1,16}|[0-9]{1,20})$/i.test(v)) return false;
  return BigInt(v) < 1n << 64n;
}

function isBufSpec(v: unknown): boolean {
  if (v === null || isHexBytes(v)) return true;
  if (!isRecord(v)) return false;
  if ('repeat' in v) return isHexBytes(v.repeat) && isInteger(v.length) && (v.length as number) >= 0 && (v.length as number) <= MAX_SCENARIO_BUFFER;
  return typeof v.base64 === 'string' && v.base64.length <= (MAX_SCENARIO_BUFFER / 3) * 4 + 4 && /^[A-Za-z0-9+/]*={0,2}$/.test(v.base64);
}

function checkMemOpSpec(d: unknown, source: string, where: string): void {
  if (!isRecord(d)) throw malformed(source, where, '"desc" must be an object');
  for (const f of ['op', 'size', 'key', 'ar'] as const) if (!isInteger(d[f])) throw malformed(source, where, `desc.${f} must be an integer`);
  for (const f of ['gaddr', 'flags'] as const) if (!isU64Text(d[f])) throw malformed(source, where, `desc.${f} must be a u64 (decimal or 0x hex string)`);
  if (!isBufSpec(d.buf)) throw malformed(source, where, 'desc.buf must be null, hex bytes, { repeat, length } or { base64 }');
  if (d.old !== undefined && !isBufSpec(d.old)) throw malformed(source, where, 'desc.old must be null, hex bytes, { repeat, length } or { base64 }');
}

function checkStep(step: unknown, source: string, index: number): void {
  const where = `step ${index}`;
  if (!isRecord(step)) throw malformed(source, where, 'not an object');
  const need = (ok: boolean, what: string) => {
    if (!ok) throw malformed(source, where, `${String(step.do)}: ${what}`);
  };
  switch (step.do) {
    case 'createVm':
      need(isIndex(step.vm), '"vm" must be a small non-negative integer');
      need(isU64Text(step.memorySize), '"memorySize" must be a u64');
      need(isU64Text(step.memorySize) && BigInt(step.memorySize as string) <= BigInt(MAX_SCENARIO_MEMORY), `"memorySize" is above the ${MAX_SCENARIO_MEMORY >> 20} MiB a scenario may use`);
      return;
    case 'setStorageKeys':
      need(isIndex(step.vm), '"vm" must be a small non-negative integer');
      need(isU64Text(step.startGfn), '"startGfn" must be a u64');
      need(isHexBytes(step.keys), '"keys" must be hex bytes');
      return;
    case 'getStorageKeys':
      need(isIndex(step.vm), '"vm" must be a small non-negative integer');
      need(isU64Text(step.startGfn), '"startGfn" must be a u64');
      need(isInteger(step.count), '"count" must be an integer');
      return;
    case 'keyop':
      need(isIndex(step.vm), '"vm" must be a small non-negative integer');
      need(isInteger(step.operation), '"operation" must be an integer');
      need(isU64Text(step.guestAddr), '"guestAddr" must be a u64');
      need(isInteger(step.key), '"key" must be an integer');
      return;
    case 'vm.memop':
      need(isIndex(step.vm), '"vm" must be a small non-negative integer');
      checkMemOpSpec(step.desc, source, where);
      return;
    case 'vcpu.memop':
      need(isIndex(step.vcpu), '"vcpu" must be a small non-negative integer');
      checkMemOpSpec(step.desc, source, where);
      return;
    case 'createVcpu':
      need(isIndex(step.vm) && isIndex(step.vcpu), '"vm" and "vcpu" must be small non-negative integers');
      need(isInteger(step.id), '"id" must be an integer');
      return;
    case 'setState':
      need(isIndex(step.vcpu), '"vcpu" must be a small non-negative integer');
      need(step.psw === undefined || (isRecord(step.psw) && isU64Text(step.psw.mask) && isU64Text(step.psw.addr)), '"psw" must be { mask, addr } of u64s');
      need(step.cr === undefined || (Array.isArray(step.cr) && step.cr.length === 16 && step.cr.every(isU64Text)), '"cr" must be 16 u64s');
      need(step.ar === undefined || (Array.isArray(step.ar) && step.ar.length === 16 && step.ar.every(isInteger)), '"ar" must be 16 integers');
      need(step.prefix === undefined || isU64Text(step.prefix), '"prefix" must be a u64');
      return;
    default:
      throw malformed(source, where, 'has no known "do"');
  }
}

/**
 * A scenario file, or a differential report with one embedded (one level: a report is never
 * nested in another), checked step by step so that running it cannot fail on its shape.
 */
export function parseScenario(value: unknown, source: string): Scenario {
  let v = value;
  if (isRecord(v) && isRecord(v.scenario)) v = v.scenario;
  if (!isRecord(v) || v.format !== SCENARIO_FORMAT || !Array.isArray(v.steps)) {
    throw new ScenarioError(`${source}: not a scenario file (expected {"format": "${SCENARIO_FORMAT}", "steps": [...]})`);
  }
  v.steps.forEach((s, i) => checkStep(s, source, i));
  return v as unknown as Scenario;
}

function errorResult(err: unknown): StepResult {
  if (err instanceof KvmError) return err.reason === null ? { errno: err.code } : { errno: err.code, message: err.reason };
  if (err instanceof Error) return { error: (err as Error & { code?: string }).code ?? err.name, message: err.message };
  return { error: String(err) };
}

function retResult(r: number): StepResult {
  return r === 0 ? { ret: 0 } : { ret: r, pgm: pgmName(r) };
}

/** Runs a scenario's steps on one backend; a step's failure is its result, never a throw. */
export class ScenarioRunner {
  readonly #backend: Backend;
  readonly #vms = new Map<number, { vm: Vm; size: bigint }>();
  readonly #vcpus = new Map<number, { vcpu: Vcpu; vm: number }>();

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  run(steps: readonly Step[], onStep?: (step: Step, result: StepResult, index: number) => void): StepResult[] {
    const results: StepResult[] = [];
    try {
      steps.forEach((step, i) => {
        const r = this.step(step);
        results.push(r);
        onStep?.(step, r, i);
      });
    } finally {
      this.close();
    }
    return results;
  }

  close(): void {
    for (const { vcpu } of this.#vcpus.values()) vcpu.close();
    for (const { vm } of this.#vms.values()) vm.close();
    this.#vcpus.clear();
    this.#vms.clear();
  }

  step(step: Step): StepResult {
    try {
      return this.#step(step);
    } catch (err) {
      return errorResult(err);
    }
  }

  #vm(index: number): { vm: Vm; size: bigint } {
    const vm = this.#vms.get(index);
    if (!vm) throw new ScenarioError(`no vm ${index} (createVm step missing)`);
    return vm;
  }

  #vcpu(index: number): { vcpu: Vcpu; vm: number } {
    const vcpu = this.#vcpus.get(index);
    if (!vcpu) throw new ScenarioError(`no vcpu ${index} (createVcpu step missing)`);
    return vcpu;
  }

  /** Guest memory digest of [start, start+length) clipped to the VM's memory. */
  #memoryDigest(vmIndex: number, start: bigint, length: bigint): string {
    const { vm, size } = this.#vm(vmIndex);
    const from = start < size ? start : size;
    const to = start + length < size ? start + length : size;
    if (to <= from) return 'outside';
    const out = new Uint8Array(Number(to - from));
    for (let off = 0; off < out.length; off += 65536) {
      const n = Math.min(65536, out.length - off);
      out.set(vm.read(from + BigInt(off), n), off);
    }
    return `${hex(from)}+${hex(to - from)}:${digest(out)}`;
  }

  #keysReadback(vmIndex: number, startGfn: bigint, count: number): string | null {
    const { vm, size } = this.#vm(vmIndex);
    const pages = size / BigInt(PAGE_SIZE);
    const end = startGfn + BigInt(count) < pages ? startGfn + BigInt(count) : pages;
    if (end <= startGfn) return 'outside';
    const keys = vm.getStorageKeys(startGfn, Number(end - startGfn));
    return keys === null ? null : toHex(keys);
  }

  #step(step: Step): StepResult {
    switch (step.do) {
      case 'createVm': {
        const size = BigInt(step.memorySize);
        const vm = this.#backend.createVm({ memorySize: size });
        this.#vms.get(step.vm)?.vm.close();
        this.#vms.set(step.vm, { vm, size });
        return { ok: true };
      }
      case 'setStorageKeys': {
        const keys = fromHex(step.keys, 'keys');
        let result: StepResult;
        try {
          this.#vm(step.vm).vm.setStorageKeys(BigInt(step.startGfn), keys);
          result = { ret: 0 };
        } catch (err) {
          result = errorResult(err);
        }
        // Keys before a failing one may or may not have been set: that is what profiles differ in.
        return { ...result, keysAfter: this.#safe(() => this.#keysReadback(step.vm, BigInt(step.startGfn), keys.length)) };
      }
      case 'getStorageKeys': {
        const keys = this.#vm(step.vm).vm.getStorageKeys(BigInt(step.startGfn), step.count);
        return { ret: keys === null ? 'KVM_S390_GET_SKEYS_NONE' : 0, keys: keys === null ? null : toHex(keys) };
      }
      case 'keyop': {
        const guestAddr = BigInt(step.guestAddr);
        let result: StepResult;
        try {
          result = { ret: 0, key: hex(this.#vm(step.vm).vm.keyop(step.operation, guestAddr, step.key)) };
        } catch (err) {
          result = errorResult(err);
        }
        return { ...result, keysAfter: this.#safe(() => this.#keysReadback(step.vm, guestAddr >> 12n, 1)) };
      }
      case 'vm.memop': {
        const desc = memopDesc(step.desc);
        const r = this.#vm(step.vm).vm.memop(desc);
        return this.#memopOutcome(step.vm, step.desc, desc, r, true);
      }
      case 'createVcpu': {
        const vcpu = this.#vm(step.vm).vm.createVcpu(step.id);
        this.#vcpus.set(step.vcpu, { vcpu, vm: step.vm });
        return { ok: true };
      }
      case 'setState': {
        this.#vcpu(step.vcpu).vcpu.setState({
          psw: step.psw ? { mask: BigInt(step.psw.mask), addr: BigInt(step.psw.addr) } : undefined,
          cr: step.cr?.map((c) => BigInt(c)),
          ar: step.ar,
          prefix: step.prefix === undefined ? undefined : Number(BigInt(step.prefix)),
        });
        return { ok: true };
      }
      case 'vcpu.memop': {
        const { vcpu, vm } = this.#vcpu(step.vcpu);
        const desc = memopDesc(step.desc);
        let outcome: StepResult;
        try {
          const r = vcpu.memop(desc);
          outcome = this.#memopOutcome(vm, step.desc, desc, r, false);
        } catch (err) {
          outcome = errorResult(err);
        }
        const pending = vcpu.pendingProgramInterrupt();
        if (pending) vcpu.clearPendingInterrupts();
        return {
          ...outcome,
          pending: pending ? { code: hex(pending.code), teid: hex(pending.teid), accessId: pending.accessId } : null,
        };
      }
    }
  }

  #safe(f: () => string | null): string | null | StepResult {
    try {
      return f();
    } catch (err) {
      return errorResult(err);
    }
  }

  #memopOutcome(vmIndex: number, spec: MemOpSpec, desc: MemOpDesc, r: number, absolute: boolean): StepResult {
    const out: StepResult = retResult(r);
    const checkOnly = (BigInt(spec.flags) & BigInt(MEMOP_F.CHECK_ONLY)) !== 0n;
    const isRead = spec.op === MEMOP.ABSOLUTE_READ || spec.op === MEMOP.LOGICAL_READ;
    if (isRead && desc.buf) out.buf = digest(desc.buf.subarray(0, spec.size));
    if (spec.op === MEMOP.ABSOLUTE_CMPXCHG && desc.old) out.old = toHex(desc.old.subarray(0, spec.size));
    const writes = !checkOnly && (spec.op === MEMOP.ABSOLUTE_WRITE || spec.op === MEMOP.ABSOLUTE_CMPXCHG || spec.op === MEMOP.LOGICAL_WRITE);
    if (writes) {
      out.memory = this.#safe(() =>
        absolute
          ? this.#memoryDigest(vmIndex, BigInt(spec.gaddr), BigInt(spec.size))
          : this.#memoryDigest(vmIndex, 0n, this.#vm(vmIndex).size),
      );
    }
    // Reference and change bits of the pages an absolute access names (null: keys not in use).
    if (absolute && spec.size > 0) {
      const first = BigInt(spec.gaddr) >> 12n;
      const pages = Number(((BigInt(spec.gaddr) + BigInt(spec.size) - 1n) >> 12n) - first) + 1;
      out.keysAfter = this.#safe(() => this.#keysReadback(vmIndex, first, pages));
    }
    return out;
  }
}

/** One line per step result, for replay and reports. */
export function formatResult(result: StepResult): string {
  return Object.entries(result)
    .filter(([k]) => k !== 'message')
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

export function formatStep(step: Step): string {
  switch (step.do) {
    case 'createVm':
      return `vm${step.vm} = createVm(memorySize ${step.memorySize})`;
    case 'setStorageKeys':
      return `vm${step.vm}.setStorageKeys(gfn ${step.startGfn}, [${step.keys.match(/../g)?.map((k) => `0x${k}`).join(' ') ?? ''}])`;
    case 'getStorageKeys':
      return `vm${step.vm}.getStorageKeys(gfn ${step.startGfn}, count ${step.count})`;
    case 'keyop':
      return `vm${step.vm}.keyop(${KEYOP_NAMES[step.operation] ?? `operation ${step.operation}`}, guestAddr ${step.guestAddr}, key 0x${step.key.toString(16)})`;
    case 'createVcpu':
      return `vcpu${step.vcpu} = vm${step.vm}.createVcpu(${step.id})`;
    case 'setState': {
      const parts: string[] = [];
      if (step.psw) parts.push(`psw ${step.psw.mask}/${step.psw.addr}`);
      if (step.cr) parts.push(`cr0 ${step.cr[0]} cr1 ${step.cr[1]} cr7 ${step.cr[7]} cr13 ${step.cr[13]}`);
      if (step.ar) parts.push(`ar [${step.ar.join(',')}]`);
      if (step.prefix !== undefined) parts.push(`prefix ${step.prefix}`);
      return `vcpu${step.vcpu}.setState(${parts.join(', ')})`;
    }
    case 'vm.memop':
    case 'vcpu.memop': {
      const d = step.desc;
      const who = step.do === 'vm.memop' ? `vm${step.vm}` : `vcpu${step.vcpu}`;
      const buf = d.buf === null ? 'buf NULL' : `buf ${bufLength(d.buf)}B`;
      const old = d.old === undefined ? '' : d.old === null ? ', old NULL' : `, old ${toHex(materialize(d.old)!)}`;
      return `${who}.memop(${opName(d.op).replace('KVM_S390_MEMOP_', '')}, gaddr ${d.gaddr}, size ${d.size}, flags ${flagNames(BigInt(d.flags)).replace(/KVM_S390_MEMOP_F_/g, '')}, key ${d.key}, ar ${d.ar}, ${buf}${old})`;
    }
  }
}
