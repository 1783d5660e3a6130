// Differential mode: the same random scenarios on two backends (real KVM vs the emulator on
// s390x, or two emulated kernel profiles anywhere), every disagreement shrunk to a minimal
// reproducer that `kvm-s390 replay` runs again, and a report to paste into a bug report.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CAP, CAP_NAMES, MEMOP_EXT } from '../abi/constants.js';
import { openBackend, type Backend } from '../api/backend.js';
import type { KernelProfile } from '../contract.js';
import { KvmError } from '../errors.js';
import { hex, seconds } from './text.js';
import { generateScenario, type GenerateOptions } from './generate.js';
import { PROFILES } from '../emulated/profiles.js';
import { explainDisagreement, type ProfileDifference } from './profile-differences.js';
import { REFERENCE_RECORDING, onlyMissedReferences } from './reference-recording.js';
import {
  ScenarioRunner,
  bufLength,
  bufSpecOf,
  describeMemop,
  formatResult,
  formatStep,
  materialize,
  stepKind,
  type BufSpec,
  type Scenario,
  type Step,
  type StepResult,
} from './scenario.js';

export const REPORT_FORMAT = 'kvm-s390-differential-report/1';

export interface Side {
  readonly label: string;
  readonly kind: 'kvm' | 'emulated';
  readonly profile: KernelProfile;
  readonly reason: string;
  readonly capabilities: Record<string, number>;
  /** A backend for one scenario run; `release` is called after it. */
  acquire(): Backend;
  release(b: Backend): void;
  close(): void;
}

const MEMOP_CAPS = [CAP.S390_MEM_OP, CAP.S390_MEM_OP_EXTENSION, CAP.S390_SKEYS, CAP.S390_PROTECTED, CAP.S390_KEYOP];

function capsOf(b: Backend): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cap of MEMOP_CAPS) out[`${cap} ${CAP_NAMES[cap]}`] = b.checkExtension(cap);
  return out;
}

/**
 * Emulated sides get a fresh backend per run (an emulated backend is one host process, and
 * a reproducer must not depend on earlier scenarios). A real KVM process cannot be renewed,
 * so when one side is real both sides keep one backend for the whole run.
 */
export function makeSide(kind: 'kvm' | 'emulated', profile: KernelProfile, shared: boolean, machine?: { edat1: boolean; edat2: boolean }): Side {
  const open = () => openBackend(kind === 'kvm' ? { kind: 'kvm' } : { kind: 'emulated', profile, machine });
  const first = open();
  const side = {
    label: kind === 'kvm' ? `kvm (${first.profile})` : `emulated/${profile}`,
    kind,
    profile: first.profile,
    reason: first.reason,
    capabilities: capsOf(first),
  };
  if (shared) {
    return { ...side, acquire: () => first, release: () => {}, close: () => first.close() };
  }
  first.close();
  return { ...side, acquire: open, release: (b) => b.close(), close: () => {} };
}

export function runOn(side: Side, steps: readonly Step[]): StepResult[] {
  const b = side.acquire();
  try {
    return new ScenarioRunner(b).run(steps);
  } finally {
    side.release(b);
  }
}

/** Results compare without free-text messages (they name the backend's own wording). */
function comparable(r: StepResult): string {
  const { message: _m, ...rest } = r;
  return JSON.stringify(rest);
}

/**
 * Where two runs of one scenario part: `diff` is the first step whose results differ (-1:
 * none). When one run is a real host's (`realRun` 0 for `a`, 1 for `b`), a step where it only
 * left reference bits unset that the model set does not end the comparison: it is noted in
 * `referenceOnly` (the first such step) and comparing goes on (see reference-recording.ts).
 */
export function compareRuns(a: readonly StepResult[], b: readonly StepResult[], realRun: 0 | 1 | null): { diff: number; referenceOnly: number } {
  const n = Math.min(a.length, b.length);
  let referenceOnly = -1;
  for (let i = 0; i < n; i++) {
    if (comparable(a[i]!) === comparable(b[i]!)) continue;
    if (realRun !== null && (realRun === 0 ? onlyMissedReferences(a[i]!, b[i]!) : onlyMissedReferences(b[i]!, a[i]!))) {
      if (referenceOnly < 0) referenceOnly = i;
      continue;
    }
    return { diff: i, referenceOnly };
  }
  return { diff: a.length === b.length ? -1 : n, referenceOnly };
}

interface Trial {
  steps: Step[];
  a: StepResult[];
  b: StepResult[];
  diff: number;
  /** The first step that differed only in reference bits against a real machine (-1: none). */
  referenceOnly: number;
}

function trial(sides: readonly [Side, Side], steps: Step[]): Trial {
  const a = runOn(sides[0], steps);
  const b = runOn(sides[1], steps);
  const realRun = sides[0].kind === 'kvm' ? 0 : sides[1].kind === 'kvm' ? 1 : null;
  return { steps, a, b, ...compareRuns(a, b, realRun) };
}

function resizeBuf(spec: BufSpec | undefined, size: number): BufSpec | undefined {
  if (spec === null || spec === undefined) return spec;
  if (bufLength(spec) <= size) return spec;
  if (typeof spec === 'string') return spec.slice(0, 2 * size);
  if ('repeat' in spec) return { ...spec, length: size };
  return bufSpecOf(materialize(spec)!.subarray(0, size));
}

/** Smaller variants of one step, most aggressive first. */
function reductions(step: Step): Step[] {
  const out: Step[] = [];
  if (step.do === 'vm.memop' || step.do === 'vcpu.memop') {
    const d = step.desc;
    const sizes = new Set<number>();
    if (d.size > 1) {
      sizes.add(1);
      sizes.add(Math.ceil(d.size / 2));
      // Keep the range's end where it was (page and memory ends matter more than the start).
      if (d.size > 8) sizes.add(d.size - Math.floor(d.size / 2));
    }
    for (const size of sizes) {
      out.push({ ...step, desc: { ...d, size, buf: resizeBuf(d.buf, size)!, ...(d.old !== undefined ? { old: resizeBuf(d.old, size) } : {}) } } as Step);
      // The same size ending at the same address.
      const end = BigInt(d.gaddr) + BigInt(d.size);
      if (end - BigInt(size) >= 0n) {
        out.push({ ...step, desc: { ...d, gaddr: hex(end - BigInt(size)), size, buf: resizeBuf(d.buf, size)!, ...(d.old !== undefined ? { old: resizeBuf(d.old, size) } : {}) } } as Step);
      }
    }
    if (d.key !== 0) out.push({ ...step, desc: { ...d, key: 0 } } as Step);
    if (d.ar !== 0) out.push({ ...step, desc: { ...d, ar: 0 } } as Step);
  } else if (step.do === 'setStorageKeys' && step.keys.length > 2) {
    out.push({ ...step, keys: step.keys.slice(0, -2) });
    out.push({ ...step, startGfn: hex(BigInt(step.startGfn) + 1n), keys: step.keys.slice(2) });
  } else if (step.do === 'getStorageKeys' && step.count > 1) {
    out.push({ ...step, count: 1 });
  } else if (step.do === 'createVm' && BigInt(step.memorySize) > 1n << 20n) {
    out.push({ ...step, memorySize: hex(1n << 20n) });
  }
  return out;
}

/**
 * Shrinks a disagreeing scenario while the disagreement persists at a step of the same
 * kind: cut everything after it, drop steps, then make the remaining steps smaller.
 */
export function shrink(sides: readonly [Side, Side], start: Trial, budget = 400): Trial {
  const kind = stepKind(start.steps[start.diff]!);
  let best = start;
  let tries = 0;
  const accept = (steps: Step[]): boolean => {
    if (tries++ >= budget) return false;
    const t = trial(sides, steps);
    if (t.diff < 0 || t.diff >= steps.length || stepKind(steps[t.diff]!) !== kind) return false;
    best = { ...t, steps: steps.slice(0, t.diff + 1), a: t.a.slice(0, t.diff + 1), b: t.b.slice(0, t.diff + 1) };
    return true;
  };
  accept(best.steps.slice(0, best.diff + 1));
  for (let changed = true; changed && tries < budget; ) {
    changed = false;
    // Drop steps, latest first (never the differing step itself, which is last).
    for (let i = best.steps.length - 2; i >= 0; i--) {
      if (i >= best.steps.length - 1) continue;
      if (accept([...best.steps.slice(0, i), ...best.steps.slice(i + 1)])) changed = true;
    }
    for (let i = 0; i < best.steps.length; i++) {
      for (const smaller of reductions(best.steps[i]!)) {
        if (accept([...best.steps.slice(0, i), smaller, ...best.steps.slice(i + 1)])) {
          changed = true;
          break;
        }
      }
    }
  }
  return best;
}

export interface Disagreement {
  scenario: Scenario;
  /** Index of the first differing step in `scenario.steps` (the last one). */
  step: number;
  kind: string;
  results: [StepResult[], StepResult[]];
  originalSteps: number;
  file?: string;
  /**
   * What explains it: a documented profile difference (two emulated profiles), the machine's
   * reference recording (only R differs from a real machine), or null when nothing does: a
   * bug in the model or, against real KVM, in the kernel or the model.
   */
  explanation: ProfileDifference | null;
}

function extName(bits: number): string {
  const names: string[] = [];
  if (bits & MEMOP_EXT.CAP_BASE) names.push('BASE');
  if (bits & MEMOP_EXT.CAP_CMPXCHG) names.push('CMPXCHG');
  return names.join('|') || 'none';
}

function capsLine(side: Side): string {
  return Object.entries(side.capabilities)
    .map(([k, v]) => {
      const n = Number(k.split(' ')[0]);
      return `${n}=${v}${n === CAP.S390_MEM_OP_EXTENSION ? ` (${extName(v)})` : ''}`;
    })
    .join(', ');
}

export function hostInfo(): { release: string; arch: string; node: string; platform: string } {
  return { release: os.release(), arch: process.arch, node: process.version, platform: process.platform };
}

/** The text report for one disagreement: what a kernel bug report needs. */
export function formatDisagreement(d: Disagreement, sides: readonly [Side, Side], n: number): string {
  const host = hostInfo();
  const step = d.scenario.steps[d.step]!;
  const lines: string[] = [];
  lines.push(`### Disagreement ${n}: ${d.kind} (seed ${d.scenario.seed}, scenario ${d.scenario.index})`);
  lines.push('');
  lines.push(`Host: Linux ${host.release} ${host.arch}, Node ${host.node}`);
  for (const [i, s] of sides.entries()) lines.push(`${'AB'[i]}: ${s.label} — caps ${capsLine(s)}`);
  lines.push(`Minimal reproducer: ${d.scenario.steps.length} steps (from ${d.originalSteps})${d.file ? `, ${d.file}` : ''}`);
  if (d.file) {
    lines.push(`Replay: kvm-s390 replay ${d.file} --backend ${sides[0].kind} --profile ${sides[0].profile}`);
    lines.push(`        kvm-s390 replay ${d.file} --backend ${sides[1].kind} --profile ${sides[1].profile}`);
  }
  lines.push('');
  lines.push('Steps (result on A; on B where it differs):');
  d.scenario.steps.forEach((s, i) => {
    const ra = formatResult(d.results[0][i]!);
    const rb = formatResult(d.results[1][i]!);
    lines.push(`  ${String(i + 1).padStart(2)}. ${formatStep(s)}`);
    lines.push(`      A: ${ra}${ra === rb ? '' : `\n      B: ${rb}`}`);
  });
  lines.push('');
  if (step.do === 'vm.memop' || step.do === 'vcpu.memop') {
    lines.push(`Differing call: ioctl(${step.do === 'vm.memop' ? 'vm' : 'vcpu'} fd, KVM_S390_MEM_OP, &(struct kvm_s390_mem_op){`);
    for (const l of describeMemop(step.desc)) lines.push(`    ${l}`);
    lines.push('})');
  } else if (step.do === 'keyop') {
    lines.push(`Differing call: ioctl(vm fd, KVM_S390_KEYOP, &(struct kvm_s390_keyop){ guest_addr = ${step.guestAddr}, key = 0x${step.key.toString(16)}, operation = ${step.operation} })`);
  } else {
    lines.push(`Differing call: ${formatStep(step)}`);
  }
  lines.push(`  A (${sides[0].label}): ${formatResult(d.results[0][d.step]!)}`);
  lines.push(`  B (${sides[1].label}): ${formatResult(d.results[1][d.step]!)}`);
  lines.push(
    d.explanation
      ? `Explained: ${d.explanation.id === REFERENCE_RECORDING.id ? 'a machine difference' : 'a documented profile difference'}, ${d.explanation.id}: ${d.explanation.title} (${d.explanation.source})`
      : 'Unexplained: no documented profile difference accounts for it',
  );
  return lines.join('\n');
}

export interface DifferentialOptions {
  seed: string;
  count: number;
  sides: readonly [Side, Side];
  outDir?: string;
  shrink?: boolean;
  onProgress?(done: number, total: number, found: number): void;
}

/**
 * What the scenarios may use so that both sides can agree: with a real kernel that translates
 * the host thread's access registers (before 6.9), AR 1 holds half the thread pointer, which no
 * model can know, so no scenario names it.
 */
export function generateOptionsFor(sides: readonly [Side, Side]): GenerateOptions {
  const real = sides.find((s) => s.kind === 'kvm');
  return { predictableAccessRegistersOnly: real !== undefined && PROFILES[real.profile].memopUsesHostAccessRegisters };
}

export interface DifferentialSummary {
  seed: string;
  count: number;
  durationMs: number;
  scenariosPerSecond: number;
  stepsRun: number;
  disagreements: Disagreement[];
}

export function runDifferential(opts: DifferentialOptions): DifferentialSummary {
  const started = performance.now();
  const disagreements: Disagreement[] = [];
  let stepsRun = 0;
  const bothEmulated = opts.sides.every((side) => side.kind === 'emulated');
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
  for (let i = 0; i < opts.count; i++) {
    const scenario = generateScenario(opts.seed, i, generateOptionsFor(opts.sides));
    stepsRun += scenario.steps.length;
    const t = trial(opts.sides, scenario.steps);
    let d: Disagreement | undefined;
    if (t.diff >= 0 && t.diff < scenario.steps.length) {
      const small = opts.shrink === false ? { ...t, steps: t.steps.slice(0, t.diff + 1), a: t.a.slice(0, t.diff + 1), b: t.b.slice(0, t.diff + 1) } : shrink(opts.sides, t);
      d = {
        scenario: { ...scenario, steps: small.steps },
        step: small.diff,
        kind: stepKind(small.steps[small.diff]!),
        results: [small.a, small.b],
        originalSteps: scenario.steps.length,
        explanation: bothEmulated ? explainDisagreement(small.steps, small.diff, [small.a[small.diff], small.b[small.diff]], [opts.sides[0].profile, opts.sides[1].profile]) : null,
      };
    } else if (t.referenceOnly >= 0) {
      // Not shrunk: the machine decides R, so a smaller scenario need not show it again.
      const end = t.referenceOnly + 1;
      d = {
        scenario: { ...scenario, steps: t.steps.slice(0, end) },
        step: t.referenceOnly,
        kind: stepKind(t.steps[t.referenceOnly]!),
        results: [t.a.slice(0, end), t.b.slice(0, end)],
        originalSteps: scenario.steps.length,
        explanation: REFERENCE_RECORDING,
      };
    }
    if (d) {
      if (opts.outDir) {
        d.file = path.join(opts.outDir, `disagreement-${opts.seed}-${i}.json`);
        writeFileSync(d.file, JSON.stringify(reportJson(d, opts.sides), null, 2) + '\n');
      }
      disagreements.push(d);
    }
    opts.onProgress?.(i + 1, opts.count, disagreements.length);
  }
  const durationMs = performance.now() - started;
  return { seed: opts.seed, count: opts.count, durationMs, scenariosPerSecond: opts.count / (durationMs / 1000), stepsRun, disagreements };
}

export function reportJson(d: Disagreement, sides: readonly [Side, Side]): unknown {
  const step = d.scenario.steps[d.step]!;
  return {
    format: REPORT_FORMAT,
    host: hostInfo(),
    sides: sides.map((s) => ({ label: s.label, kind: s.kind, profile: s.profile, reason: s.reason, capabilities: s.capabilities })),
    difference: {
      step: d.step,
      kind: d.kind,
      call: formatStep(step),
      memop: step.do === 'vm.memop' || step.do === 'vcpu.memop' ? describeMemop(step.desc) : undefined,
      results: [d.results[0][d.step], d.results[1][d.step]],
      explanation: d.explanation,
    },
    results: d.results,
    scenario: d.scenario,
  };
}

/** The disagreements nothing documented explains: these make the run fail. */
export function unexplained(s: DifferentialSummary): Disagreement[] {
  return s.disagreements.filter((d) => d.explanation === null);
}

export function formatSummary(s: DifferentialSummary, sides: readonly [Side, Side]): string {
  const referenceOnly = s.disagreements.filter((d) => d.explanation?.id === REFERENCE_RECORDING.id).length;
  const byKind = new Map<string, number>();
  for (const d of s.disagreements) byKind.set(d.kind, (byKind.get(d.kind) ?? 0) + 1);
  const lines = [
    `Differential: ${sides[0].label} vs ${sides[1].label}, seed ${s.seed}, ${s.count} scenarios (${s.stepsRun} steps)`,
    `Time: ${seconds(s.durationMs)} (${s.scenariosPerSecond.toFixed(1)} scenarios/s, shrinking included)`,
    sides.some((side) => side.kind === 'kvm')
      ? `Disagreements: ${s.disagreements.length} (${referenceOnly} only in reference bits, a machine difference; ${unexplained(s).length} unexplained)`
      : `Disagreements: ${s.disagreements.length} (${s.disagreements.length - unexplained(s).length} documented profile differences, ${unexplained(s).length} unexplained)`,
  ];
  for (const [kind, n] of [...byKind].sort()) lines.push(`  ${kind}: ${n}`);
  return lines.join('\n');
}

/** The pair to compare: real KVM vs its emulated profile when usable, else two emulated profiles. */
export function chooseSides(backend: 'auto' | 'kvm' | 'emulated', profiles: readonly [KernelProfile, KernelProfile]): [Side, Side] {
  if (backend !== 'emulated') {
    try {
      const real = makeSide('kvm', 'newest', true);
      try {
        // KVM that opens but cannot create a VM (PGSTE) would disagree on every scenario.
        const vm = real.acquire().createVm({ memorySize: 1 << 20 });
        // The emulated side models the same machine: a real host without EDAT-2 (Hercules)
        // gives its VMs none, and so does the emulated backend then.
        const { edat1, edat2 } = vm.facilities;
        vm.close();
        return [real, makeSide('emulated', real.profile, true, { edat1, edat2 })];
      } catch (err) {
        real.close();
        throw err;
      }
    } catch (err) {
      if (backend === 'kvm' || !(err instanceof KvmError)) throw err;
    }
  }
  return [makeSide('emulated', profiles[0], false), makeSide('emulated', profiles[1], false)];
}

/** The machine-readable summary of a run (`conformance --differential --json`). */
export function summaryJson(summary: DifferentialSummary, sides: readonly [Side, Side]): unknown {
  return {
    format: 'kvm-s390-differential-summary/1',
    seed: summary.seed,
    count: summary.count,
    sides: sides.map((s) => ({ label: s.label, kind: s.kind, profile: s.profile, capabilities: s.capabilities })),
    durationMs: Math.round(summary.durationMs),
    scenariosPerSecond: Number(summary.scenariosPerSecond.toFixed(2)),
    stepsRun: summary.stepsRun,
    disagreements: summary.disagreements.map((d) => ({
      scenario: d.scenario.index,
      kind: d.kind,
      step: d.step,
      steps: d.scenario.steps.length,
      originalSteps: d.originalSteps,
      file: d.file ?? null,
      results: [d.results[0][d.step], d.results[1][d.step]],
      explanation: d.explanation,
    })),
    unexplained: unexplained(summary).length,
  };
}
