// A conformance case is data plus a function over the public API: it never knows which
// backend runs it. vitest (test/conformance.test.ts) and the CLI execute the same cases.
import type { Backend, CreateVmOptions } from '../api/backend.js';
import type { Vm } from '../api/vm.js';
import type { KernelProfile } from '../contract.js';

export interface CaseContext {
  readonly backend: Backend;
  /** The profile the backend models (emulated) or was inferred from the host (kvm). */
  readonly profile: KernelProfile;
  /** A new VM, closed by the runner after the case. Default 16 MiB. */
  createVm(opts?: Partial<CreateVmOptions>): Vm;
  /** Ends the case as skipped, with the reason (e.g. a capability the kernel lacks). */
  skip(reason: string): never;
  /** Skips unless KVM_CAP_S390_MEM_OP_EXTENSION has all of `bits`. */
  requireExtension(bits: number): void;
  /** Deterministic random bytes for this case (seeded by the case id). */
  randomBytes(length: number): Uint8Array;
}

export interface ConformanceCase {
  /** Stable, unique, path-like: 'absolute/read/partial-write-stops-at-memslot-end'. */
  readonly id: string;
  /** Grouping for reports: 'absolute', 'cmpxchg', 'storage-keys', 'logical', 'selftest', … */
  readonly topic: string;
  readonly title: string;
  /** Where the expectation comes from: 'selftest T2 E1', 'docs/memop-semantics.md §5.1', … */
  readonly source: string;
  /** Needs a real guest running concurrently (only real KVM can run it). */
  readonly needsRealGuest?: boolean;
  run(ctx: CaseContext): void | Promise<void>;
}

export type CaseStatus = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  readonly id: string;
  readonly topic: string;
  readonly title: string;
  readonly status: CaseStatus;
  /** Skip reason or failure message. */
  readonly message?: string;
  readonly error?: unknown;
  readonly durationMs: number;
}
