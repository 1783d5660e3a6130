// Runs conformance cases against one backend, independent of any test framework.
import type { Backend } from '../api/backend.js';
import type { Vm } from '../api/vm.js';
import { CAP, MEMOP_EXT } from '../abi/constants.js';
import { SeededRandom } from './random.js';
import type { CaseContext, CaseResult, ConformanceCase } from './types.js';

const DEFAULT_MEMORY = 16 << 20;

/**
 * Thrown by `ctx.skip(reason)`: the runner records the case as skipped.
 *
 * @example
 * ```ts
 * if (ctx.backend.kind !== 'kvm') throw new SkipCase('needs real KVM');
 * ```
 */
export class SkipCase extends Error {
  /**
   * A skip with its reason.
   *
   * @param reason - Why the case cannot run here.
   */
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
const DEFAULT_CASE_TIMEOUT_MS = 30_000;

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

/**
 * Runs one case; never throws (failures, time-outs and skips are results).
 *
 * @param backend - The backend to run it on.
 * @param c - The case.
 * @param timeoutMs - How long the case may take to settle before it fails (default 30000 ms):
 *   a promise that never settles is a failure, not a hang.
 * @returns Its result.
 * @throws Nothing: a failure is a result.
 * @example
 * ```ts
 * const result = await runCase(openBackend({ kind: 'emulated' }), ALL_CASES[0]!);
 * ```
 */
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

/**
 * Options of `runCases`.
 *
 * @example
 * ```ts
 * await runCases(backend, ALL_CASES, { filter: 'cmpxchg', onResult: (r) => console.log(r.id, r.status) });
 * ```
 */
export interface RunOptions {
  /** Keep only cases whose id, topic or title contains this text. */
  filter?: string;
  /**
   * Called after each case.
   *
   * @param result - The case's result.
   * @param index - Its position among the selected cases.
   * @param total - How many cases were selected.
   * @throws Whatever the callback throws ends the run.
   */
  onResult?(result: CaseResult, index: number, total: number): void;
  /** Per-case limit in ms (default DEFAULT_CASE_TIMEOUT_MS): a case that does not settle fails. */
  caseTimeoutMs?: number;
}

/**
 * The cases whose id, topic or title contains `filter` (case-insensitive).
 *
 * @param cases - The cases to choose from.
 * @param filter - The text; all cases when absent or empty.
 * @returns The chosen cases, in order.
 * @throws Nothing.
 * @example
 * ```ts
 * selectCases(ALL_CASES, 'storage-keys').length;
 * ```
 */
export function selectCases(cases: readonly ConformanceCase[], filter?: string): ConformanceCase[] {
  if (!filter) return [...cases];
  const f = filter.toLowerCase();
  return cases.filter((c) => `${c.id} ${c.topic} ${c.title}`.toLowerCase().includes(f));
}

/**
 * Runs cases one after another against one backend, independent of any test framework.
 *
 * @param backend - The backend to run them on.
 * @param cases - The cases (`ALL_CASES`, your own, or both).
 * @param opts - A filter and a per-result callback.
 * @returns One result per selected case, in order.
 * @throws Nothing: failures are results.
 * @example
 * ```ts
 * const results = await runCases(openBackend({ kind: 'emulated', profile: 'classic' }), ALL_CASES);
 * console.log(results.filter((r) => r.status === 'failed').length); // 0
 * ```
 */
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
