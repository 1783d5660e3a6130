// Which documented difference between two kernel profiles explains a differential
// disagreement (README "Kernel profiles", docs/memop-semantics.md §0.1 and §13,
// docs/spec-errata.md). Two emulated profiles are meant to differ exactly there; anything else
// is unexplained and worth a look. Judged from the differing step's inputs and the two results,
// as the documents predict them, never by re-running a model.
import { KERNEL_PROFILES, type KernelProfile } from '../contract.js';
import { PROFILES } from '../emulated/profiles.js';
import type { Step, StepResult } from './scenario.js';
import { differOnlyInKeyBytes } from './key-bytes.js';

/** A documented difference between kernel profiles. */
export interface ProfileDifference {
  readonly id: string;
  readonly title: string;
  /** Where it is documented. */
  readonly source: string;
}

const D = {
  firstBytePrecheck: {
    id: 'absolute-first-byte-precheck',
    title: 'before the gmap rewrite an absolute op answers 5 for a first byte outside memory before anything else',
    source: 'docs/memop-semantics.md §5.1, §13',
  },
  checkKeyZero: {
    id: 'absolute-check-key-zero',
    title: 'before the gmap rewrite an absolute check-only with key 0 checks only the first byte against memory',
    source: 'docs/memop-semantics.md §5.2, §13',
  },
  cmpxchgOrder: {
    id: 'cmpxchg-order',
    title: 'the gmap rewrite checks cmpxchg alignment before the memslot',
    source: 'docs/memop-semantics.md §6.1, §13',
  },
  setSkeysOrder: {
    id: 'set-skeys-reserved-bit-order',
    title: 'the gmap rewrite refuses a reserved key bit before setting any key; older kernels set keys in order',
    source: 'docs/memop-semantics.md §9, §13',
  },
  keyUseScope: {
    id: 'key-use-per-process',
    title: 'before the gmap rewrite "uses storage keys" belongs to the host process, not to the VM',
    source: 'docs/spec-errata.md §9',
  },
  noCmpxchg: { id: 'no-cmpxchg', title: 'ABSOLUTE_CMPXCHG came with Linux 6.3', source: 'docs/memop-semantics.md §0.1' },
  noVmMemop: { id: 'no-vm-memop', title: 'the vm-fd memop came with Linux 5.18', source: 'docs/memop-semantics.md §0.1' },
  noLogicalKeys: {
    id: 'no-logical-keys',
    title: 'storage-key checks on logical accesses (SKEY_PROTECTION) came with Linux 5.18',
    source: 'docs/memop-semantics.md §0.1',
  },
  validationOrder: {
    id: 'validation-order',
    title: 'Linux 6.3 changed the order of the memop argument checks',
    source: 'docs/memop-semantics.md §4.1, §5.1',
  },
  legacyCheckOnly: {
    id: 'legacy-check-only',
    title: 'before 5.18 a check-only logical access passes real addresses outside memory and reports access id 0',
    source: 'docs/spec-errata.md',
  },
  keyopOnlyAfterRewrite: {
    id: 'keyop-only-after-rewrite',
    title: 'KVM_S390_KEYOP exists only after the gmap rewrite; older vm fds answer ENOTTY',
    source: 'docs/spec-errata.md §1.1, §1.2, §0',
  },
  lostKeyOfFreshSegment: {
    id: 'set-skeys-lost-key',
    title: 'before the gmap rewrite SET_SKEYS loses a non-zero key whose 1 MiB host segment has no page table yet',
    source: 'docs/spec-errata.md §9',
  },
  firstAccessMarksChange: {
    id: 'first-access-marks-rc',
    title: 'after the gmap rewrite an access to a page of a VM without storage keys marks R and C',
    source: 'docs/spec-errata.md §9',
  },
  arTablesFault: {
    id: 'ar-tables-efault',
    title: 'before 6.12 an access-register table outside memory fails with EFAULT instead of 5',
    source: 'docs/spec-errata.md',
  },
} as const satisfies Record<string, ProfileDifference>;

/** Every documented difference, for reports and docs. */
export const PROFILE_DIFFERENCES: readonly ProfileDifference[] = Object.values(D);

const isErrno = (r: StepResult | undefined, code?: string) => r !== undefined && typeof r.errno === 'string' && (code === undefined || r.errno === code);
const ret = (r: StepResult | undefined) => r?.ret;

const R_AND_C = 0x06;

/** True when the results differ only in key bytes the older profile left 0 where the newer stored one. */
function onlyLostKeysDiffer(newer: StepResult, older: StepResult): boolean {
  return differOnlyInKeyBytes(newer, older, (_n, o) => o === 0);
}

/**
 * When the two results differ only in key bytes (`keys`, `keysAfter`) and only in R and C:
 * which side has the extra bits ('older-marked' when the older profile's keys carry them);
 * null otherwise.
 */
function onlyReferenceAndChangeDiffer(newer: StepResult, older: StepResult): 'older-marked' | 'newer-marked' | 'mixed' | null {
  let marked: 'older-marked' | 'newer-marked' | 'mixed' | null = null;
  const onlyRC = differOnlyInKeyBytes(newer, older, (x, y) => {
    if ((x & ~R_AND_C) !== (y & ~R_AND_C)) return false;
    const side = (y | x) === y ? 'older-marked' : (x | y) === x ? 'newer-marked' : 'mixed';
    marked = marked === null || marked === side ? side : 'mixed';
    return true;
  });
  return onlyRC ? marked : null;
}

/** Older profiles come later in KERNEL_PROFILES. */
function newerFirst(a: KernelProfile, b: KernelProfile): boolean {
  return KERNEL_PROFILES.indexOf(a) <= KERNEL_PROFILES.indexOf(b);
}

/**
 * True when the results differ only in the memory a logical write left, which the scenario
 * runner reads back through the vm fd: without the vm memop that read-back is refused.
 */
function onlyMemoryReadbackRefused(newer: StepResult, older: StepResult): boolean {
  const refused = older.memory as { errno?: unknown } | null | undefined;
  if (typeof refused !== 'object' || refused === null || refused.errno !== 'ENOTTY') return false;
  const { memory: _n, message: _nm, ...restNewer } = newer;
  const { memory: _o, message: _om, ...restOlder } = older;
  return JSON.stringify(restNewer) === JSON.stringify(restOlder);
}

function vmMemopDifference(step: Extract<Step, { do: 'vm.memop' }>, steps: readonly Step[], newer: StepResult, older: StepResult, olderProfile: KernelProfile, newerProfile: KernelProfile): ProfileDifference | null {
  const sw = PROFILES[olderProfile];
  const newSw = PROFILES[newerProfile];
  const d = step.desc;
  if (!sw.vmMemop && isErrno(older, 'ENOTTY')) return D.noVmMemop;
  if (d.op === 6 && (sw.memopExtension & 2) === 0 && (newSw.memopExtension & 2) !== 0) return D.noCmpxchg;
  if (sw.commonValidation !== newSw.commonValidation && (isErrno(older) || isErrno(newer))) return D.validationOrder;
  let memorySize: bigint | undefined;
  for (const s of steps) if (s.do === 'createVm' && s.vm === step.vm) memorySize = BigInt(s.memorySize);
  if (memorySize === undefined) return null;
  const gaddr = BigInt(d.gaddr);
  const flags = BigInt(d.flags);
  const checkOnly = (flags & 1n) !== 0n;
  const keyZero = (flags & 4n) === 0n || d.key === 0;
  const rw = d.op === 4 || d.op === 5;
  if (sw.absoluteFirstBytePrecheck && !newSw.absoluteFirstBytePrecheck && rw && !checkOnly && gaddr >= memorySize && ret(older) === 5 && ret(newer) !== 5) {
    return D.firstBytePrecheck;
  }
  if (sw.absoluteCheckKeyZeroSkipsMemslot && !newSw.absoluteCheckKeyZeroSkipsMemslot && rw && checkOnly && keyZero && gaddr < memorySize && ret(older) === 0 && ret(newer) === 5) {
    return D.checkKeyZero;
  }
  if (!sw.cmpxchgNewestOrder && newSw.cmpxchgNewestOrder && d.op === 6 && gaddr >= memorySize && ret(older) === 5 && isErrno(newer, 'EINVAL')) {
    return D.cmpxchgOrder;
  }
  return null;
}

function vcpuMemopDifference(step: Extract<Step, { do: 'vcpu.memop' }>, newer: StepResult, older: StepResult, olderProfile: KernelProfile, newerProfile: KernelProfile): ProfileDifference | null {
  const sw = PROFILES[olderProfile];
  const newSw = PROFILES[newerProfile];
  const flags = BigInt(step.desc.flags);
  if (!sw.vmMemop && newSw.vmMemop && onlyMemoryReadbackRefused(newer, older)) return D.noVmMemop;
  if (!sw.logicalKeys && newSw.logicalKeys && (flags & 4n) !== 0n) return D.noLogicalKeys;
  if (sw.commonValidation !== newSw.commonValidation && (isErrno(older) || isErrno(newer))) return D.validationOrder;
  if (sw.arTablesFaultOutsideMemory && !newSw.arTablesFaultOutsideMemory && isErrno(older, 'EFAULT') && ret(newer) === 5) return D.arTablesFault;
  if (sw.legacyCheckOnly && !newSw.legacyCheckOnly && (flags & 1n) !== 0n) return D.legacyCheckOnly;
  return null;
}

/**
 * The documented difference between the two profiles that explains why a step answered
 * `results[0]` on `profiles[0]` and `results[1]` on `profiles[1]`; null when none does.
 */
export function explainDisagreement(
  steps: readonly Step[],
  stepIndex: number,
  results: readonly [StepResult | undefined, StepResult | undefined],
  profiles: readonly [KernelProfile, KernelProfile],
): ProfileDifference | null {
  const step = steps[stepIndex];
  if (step === undefined || profiles[0] === profiles[1]) return null;
  const swap = !newerFirst(profiles[0], profiles[1]);
  const [newerProfile, olderProfile] = swap ? [profiles[1], profiles[0]] : profiles;
  const [newer, older] = swap ? [results[1], results[0]] : results;
  if (newer === undefined || older === undefined) return null;
  const sw = PROFILES[olderProfile];
  const newSw = PROFILES[newerProfile];
  if (step.do === 'keyop') {
    return !sw.keyop && newSw.keyop && isErrno(older, 'ENOTTY') && !isErrno(newer, 'ENOTTY') ? D.keyopOnlyAfterRewrite : null;
  }
  if (step.do === 'setStorageKeys' && sw.setSkeysDropsKeyWithoutPageTable && !newSw.setSkeysDropsKeyWithoutPageTable && onlyLostKeysDiffer(newer, older)) {
    return D.lostKeyOfFreshSegment;
  }
  // Key bytes that differ only in R and C (0x06): which profile marks them says which rule.
  const rc = onlyReferenceAndChangeDiffer(newer, older);
  if (rc !== null && newSw.firstAccessWithoutKeysMarksChange && !sw.firstAccessWithoutKeysMarksChange) return D.firstAccessMarksChange;
  switch (step.do) {
    case 'vm.memop':
      return vmMemopDifference(step, steps, newer, older, olderProfile, newerProfile);
    case 'vcpu.memop':
      return vcpuMemopDifference(step, newer, older, olderProfile, newerProfile);
    case 'setStorageKeys': {
      const keys = (step.keys.match(/../g) ?? []).map((k) => parseInt(k, 16));
      if (!sw.setSkeysCheckAllFirst && newSw.setSkeysCheckAllFirst && keys.some((k) => k & 1) && isErrno(newer, 'EINVAL')) return D.setSkeysOrder;
      return null;
    }
    case 'getStorageKeys': {
      const before = steps.slice(0, stepIndex);
      const own = before.some((s) => s.do === 'setStorageKeys' && s.vm === step.vm);
      const other = before.some((s) => s.do === 'setStorageKeys' && s.vm !== step.vm);
      if (sw.keyUsePerProcess && !newSw.keyUsePerProcess && !own && other && ret(newer) === 'KVM_S390_GET_SKEYS_NONE' && ret(older) !== 'KVM_S390_GET_SKEYS_NONE') {
        return D.keyUseScope;
      }
      return null;
    }
    default:
      return null;
  }
}
