// A conformance case is data plus a function over the public API: it never knows which
// backend runs it. vitest (test/conformance.test.ts) and the CLI execute the same cases.
import type { Backend, CreateVmOptions } from '../api/backend.js';
import type { Vm } from '../api/vm.js';
import type { KernelProfile } from '../contract.js';

/**
 * What a case gets from the runner: the backend, its profile, VMs that are closed after the
 * case, and ways to skip.
 *
 * @example
 * ```ts
 * const myCase: ConformanceCase = {
 *   id: 'mine/read-back', topic: 'mine', title: 'a write reads back', source: 'our VMM',
 *   run(ctx: CaseContext) {
 *     const vm = ctx.createVm();
 *     vm.write(0x1000, Uint8Array.of(1));
 *     if (vm.read(0x1000, 1)[0] !== 1) throw new Error('no read-back');
 *   },
 * };
 * ```
 */
export interface CaseContext {
  /** The backend under test. */
  readonly backend: Backend;
  /** The profile the backend models (emulated) or was inferred from the host (kvm). */
  readonly profile: KernelProfile;
  /**
   * A new VM, closed by the runner after the case.
   *
   * @param opts - Memory size (default 16 MiB) and facilities.
   * @returns The VM.
   * @throws {@link KvmError} as `Backend.createVm`.
   */
  createVm(opts?: Partial<CreateVmOptions>): Vm;
  /**
   * Ends the case as skipped, with the reason (e.g. a capability the kernel lacks).
   *
   * @param reason - Why the case cannot run here.
   * @throws Always: the runner's skip signal.
   */
  skip(reason: string): never;
  /**
   * Skips unless KVM_CAP_S390_MEM_OP_EXTENSION has all of `bits`.
   *
   * @param bits - `MEMOP_EXT` bits.
   * @throws The runner's skip signal when a bit is missing.
   */
  requireExtension(bits: number): void;
  /**
   * Deterministic random bytes for this case (seeded by the case id).
   *
   * @param length - How many bytes.
   * @returns The bytes.
   * @throws Nothing.
   */
  randomBytes(length: number): Uint8Array;
}

/**
 * A conformance case: data plus a function over the public API, independent of the backend.
 * Failing is throwing; `ctx.skip(reason)` skips.
 *
 * @example
 * ```ts
 * const cases: ConformanceCase[] = [...ALL_CASES.filter((c) => c.topic === 'cmpxchg'), myCase];
 * ```
 */
export interface ConformanceCase {
  /** Stable, unique, path-like: 'absolute/read/partial-write-stops-at-memslot-end'. */
  readonly id: string;
  /** Grouping for reports: 'absolute', 'cmpxchg', 'storage-keys', 'logical', 'selftest', … */
  readonly topic: string;
  /** One line saying what the case checks. */
  readonly title: string;
  /** Where the expectation comes from: 'selftest T2 E1', 'docs/memop-semantics.md §5.1', … */
  readonly source: string;
  /** Needs a real guest running concurrently (only real KVM can run it). */
  readonly needsRealGuest?: boolean;
  /**
   * The case body: throws on a failure.
   *
   * @param ctx - The backend and helpers.
   * @throws Anything, for a failure; the runner's skip signal for a skip.
   */
  run(ctx: CaseContext): void | Promise<void>;
}

/**
 * How a case ended.
 *
 * @example
 * ```ts
 * const failed = results.filter((r) => r.status === ('failed' satisfies CaseStatus));
 * ```
 */
export type CaseStatus = 'passed' | 'failed' | 'skipped';

/**
 * The outcome of one case.
 *
 * @example
 * ```ts
 * for (const r of await runCases(backend, ALL_CASES)) if (r.status === 'failed') console.log(r.id, r.message);
 * ```
 */
export interface CaseResult {
  /** The case's id. */
  readonly id: string;
  /** The case's topic. */
  readonly topic: string;
  /** The case's title. */
  readonly title: string;
  /** Passed, failed or skipped. */
  readonly status: CaseStatus;
  /** Skip reason or failure message. */
  readonly message?: string;
  /** What the case threw, when it failed. */
  readonly error?: unknown;
  /** Wall time of the case. */
  readonly durationMs: number;
}
