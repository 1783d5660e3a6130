// Runs conformance cases against one backend, independent of any test framework.
import type { Backend } from '../api/backend.js';
import type { Vm } from '../api/vm.js';
import { CAP, MEMOP_EXT } from '../abi/constants.js';
import { SeededRandom } from './random.js';
import type { CaseContext, CaseResult, ConformanceCase } from './types.js';

const DEFAULT_MEMORY = 16 << 20;

export class SkipCase extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SkipCase';
  }
}

export function extensionName(bits: number): string {
  const names: string[] = [];
  if (bits & MEMOP_EXT.CAP_BASE) names.push('BASE');
  if (bits & MEMOP_EXT.CAP_CMPXCHG) names.push('CMPXCHG');
  return names.join('|') || '0';
}

/** How long a case may take to settle before it counts as failed (a promise that never settles). */
export const DEFAULT_CASE_TIMEOUT_MS = 30_000;

class CaseTimeout extends Error {
  constructor(ms: number) {
    super(`did not settle within ${ms} ms (a promise that never resolves?)`);
    this.name = 'CaseTimeout';
  }
}

/** `work`, or a CaseTimeout after `ms`; the timer keeps the process alive until one settles. */
async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CaseTimeout(ms)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one case; never throws (failures, time-outs and skips are results). */
export async function runCase(backend: Backend, c: ConformanceCase, timeoutMs = DEFAULT_CASE_TIMEOUT_MS): Promise<CaseResult> {
  const started = performance.now();
  const vms: Vm[] = [];
  const random = new SeededRandom(c.id);
  const ctx: CaseContext = {
    backend,
    profile: backend.profile,
    createVm(opts = {}) {
      const vm = backend.createVm({ memorySize: DEFAULT_MEMORY, ...opts });
      vms.push(vm);
      return vm;
    },
    skip(reason: string): never {
      throw new SkipCase(reason);
    },
    requireExtension(bits: number) {
      const ext = backend.checkExtension(CAP.S390_MEM_OP_EXTENSION);
      if ((ext & bits) !== bits) {
        throw new SkipCase(`needs KVM_CAP_S390_MEM_OP_EXTENSION ${extensionName(bits)}; this kernel answers ${ext}`);
      }
    },
    randomBytes: (length) => random.bytes(length),
  };
  const base = { id: c.id, topic: c.topic, title: c.title };
  try {
    if (c.needsRealGuest && backend.kind !== 'kvm') {
      throw new SkipCase('needs a guest running concurrently on real KVM; the emulated backend runs no guest code');
    }
    await withTimeout(Promise.resolve().then(() => c.run(ctx)), timeoutMs);
    return { ...base, status: 'passed', durationMs: performance.now() - started };
  } catch (err) {
    const durationMs = performance.now() - started;
    if (err instanceof SkipCase) return { ...base, status: 'skipped', message: err.reason, durationMs };
    const message = err instanceof Error ? err.message : String(err);
    return { ...base, status: 'failed', message, error: err, durationMs };
  } finally {
    for (const vm of vms) vm.close();
  }
}

export interface RunOptions {
  /** Keep only cases whose id, topic or title contains this text. */
  filter?: string;
  onResult?(result: CaseResult, index: number, total: number): void;
  /** Per-case limit in ms (default DEFAULT_CASE_TIMEOUT_MS): a case that does not settle fails. */
  caseTimeoutMs?: number;
}

export function selectCases(cases: readonly ConformanceCase[], filter?: string): ConformanceCase[] {
  if (!filter) return [...cases];
  const f = filter.toLowerCase();
  return cases.filter((c) => `${c.id} ${c.topic} ${c.title}`.toLowerCase().includes(f));
}

export async function runCases(backend: Backend, cases: readonly ConformanceCase[], opts: RunOptions = {}): Promise<CaseResult[]> {
  const selected = selectCases(cases, opts.filter);
  const results: CaseResult[] = [];
  for (let i = 0; i < selected.length; i++) {
    const result = await runCase(backend, selected[i]!, opts.caseTimeoutMs);
    results.push(result);
    opts.onResult?.(result, i, selected.length);
  }
  return results;
}
