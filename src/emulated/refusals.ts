// Why the kernel answers a memop or a storage-key ioctl with an errno: the argument checks it
// runs before touching guest memory, in each profile's order, with one sentence per rule
// (docs/memop-semantics.md §2, §4.1, §5.1, §6.1, §7, §9). Only consulted after a call failed, so the hot
// path never builds a sentence. The emulated backend refuses by these very rules; for real
// KVM the same model of the host's inferred profile names the likely rule.
import { ERRNO, KEYOP, MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, NUM_ACRS, PAGE_SIZE, SKEYS_MAX, CMPXCHG_MAX_SIZE, errnoName } from '../abi/constants.js';
import { hasFlag, hasFlagsOutside } from '../abi/flags.js';
import type { KernelProfile, MemOpRequest } from '../contract.js';
import { PROFILES } from './profiles.js';

/** The file descriptor a memop went to, and what the rules need to know about it. */
export type MemOpTarget =
  | { readonly fd: 'vm'; readonly profile: KernelProfile }
  | { readonly fd: 'vcpu'; readonly profile: KernelProfile; readonly protectedVcpu: boolean; readonly sidaSize: number };

interface Refusal {
  readonly errno: number;
  readonly reason: string;
}

const U32_LIMIT = 0x1_0000_0000;
const CMPXCHG_SIZES = [1, 2, 4, 8, 16];

const refuse = (errno: number, reason: string): Refusal => ({ errno, reason });
const hex = (v: number | bigint) => `0x${v.toString(16)}`;

function flagNames(mask: number): string {
  const names = Object.entries(MEMOP_F).filter(([, bit]) => (mask & bit) !== 0).map(([name]) => name);
  return names.length > 0 ? names.join(' | ') : 'none';
}

/** size, flags and key: the checks every absolute and logical op shares. */
function commonRefusal(req: MemOpRequest, allowed: number, what: string, keyed: boolean): Refusal | null {
  if (hasFlagsOutside(req.flags, allowed)) {
    return refuse(ERRNO.EINVAL, `flags ${hex(req.flags)} has bits ${what} does not take (it takes ${flagNames(allowed)})`);
  }
  if (req.size === 0) return refuse(ERRNO.EINVAL, 'size is 0: the kernel refuses an empty access');
  if (req.size > MEM_OP_MAX_SIZE) {
    return refuse(ERRNO.E2BIG, `size ${req.size} is above ${MEM_OP_MAX_SIZE}, the largest access of one KVM_S390_MEM_OP (KVM_CAP_S390_MEM_OP); Vm/Vcpu read and write split larger accesses`);
  }
  if (keyed && req.key > 15) return refuse(ERRNO.EINVAL, `key ${req.key} is above 15: an access key has 4 bits`);
  return null;
}

const nullBuffer = (what: string) => refuse(ERRNO.EFAULT, `${what} is NULL: the kernel copies from or to that user address and faults`);

function vmRefusal(req: MemOpRequest, profile: KernelProfile): Refusal | null {
  const sw = PROFILES[profile];
  if (!sw.vmMemop) {
    return refuse(ERRNO.ENOTTY, `the vm fd knows no KVM_S390_MEM_OP before Linux 5.18 (profile ${profile}): absolute access came with KVM_CAP_S390_MEM_OP_EXTENSION`);
  }
  const isRw = req.op === MEMOP.ABSOLUTE_READ || req.op === MEMOP.ABSOLUTE_WRITE;
  const hasCmpxchg = (sw.memopExtension & 2) !== 0;
  const isCmpxchg = req.op === MEMOP.ABSOLUTE_CMPXCHG && hasCmpxchg;
  const wrongOp = refuse(
    ERRNO.EINVAL,
    `op ${req.op} is not valid on the vm fd, which takes ABSOLUTE_READ (4), ABSOLUTE_WRITE (5)${hasCmpxchg ? ' and ABSOLUTE_CMPXCHG (6)' : ` (profile ${profile} has no ABSOLUTE_CMPXCHG)`}${req.op <= MEMOP.SIDA_WRITE ? '; logical and SIDA ops go to a vcpu fd' : ''}`,
  );
  if (sw.vmOpCheckedFirst && !isRw && !isCmpxchg) return wrongOp;
  if (isCmpxchg) {
    const common = commonRefusal(req, MEMOP_F.SKEY_PROTECTION, 'ABSOLUTE_CMPXCHG', hasFlag(req.flags, MEMOP_F.SKEY_PROTECTION));
    if (common) return common;
    if (req.size > CMPXCHG_MAX_SIZE) return refuse(ERRNO.EINVAL, `size ${req.size} is above ${CMPXCHG_MAX_SIZE}, the largest compare-and-exchange`);
    if (req.buf === null) return nullBuffer('buf (the replacement value)');
    if (req.old === null) return nullBuffer('old (the expected value)');
    if (((typeof req.gaddr === 'number' ? req.gaddr & 0xff : Number(req.gaddr & 0xffn)) & (req.size - 1)) !== 0) return refuse(ERRNO.EINVAL, `gaddr ${hex(req.gaddr)} is not aligned to the compare-and-exchange size ${req.size}`);
    if (!CMPXCHG_SIZES.includes(req.size)) return refuse(ERRNO.EINVAL, `size ${req.size} is not a compare-and-exchange size (1, 2, 4, 8 or 16)`);
    return null;
  }
  const common = commonRefusal(req, MEMOP_F.CHECK_ONLY | MEMOP_F.SKEY_PROTECTION, 'an absolute op', hasFlag(req.flags, MEMOP_F.SKEY_PROTECTION));
  if (common) return common;
  if (!isRw) return wrongOp;
  if (!hasFlag(req.flags, MEMOP_F.CHECK_ONLY) && req.buf === null) return nullBuffer('buf');
  return null;
}

function logicalRefusal(req: MemOpRequest, profile: KernelProfile, protectedVcpu: boolean): Refusal | null {
  const sw = PROFILES[profile];
  const allowed = MEMOP_F.CHECK_ONLY | MEMOP_F.INJECT_EXCEPTION | (sw.logicalKeys ? MEMOP_F.SKEY_PROTECTION : 0);
  const what = sw.logicalKeys ? 'a logical op' : `a logical op before Linux 5.18 (profile ${profile}: no SKEY_PROTECTION)`;
  const keyed = sw.logicalKeys && hasFlag(req.flags, MEMOP_F.SKEY_PROTECTION);
  const badAr = req.ar >= NUM_ACRS ? refuse(ERRNO.EINVAL, `ar ${req.ar} is above 15: there are 16 access registers`) : null;
  const pv = protectedVcpu
    ? refuse(ERRNO.EINVAL, 'logical accesses are refused on a protected (PV) vcpu: its guest memory is not accessible to the host; use SIDA_READ/SIDA_WRITE')
    : null;
  if (sw.commonValidation) {
    return commonRefusal(req, allowed, what, keyed) ?? badAr ?? pv ?? bufferRefusal(req);
  }
  // Before 6.3: one EINVAL for flags, size 0 and ar, then E2BIG, the PV check and the key.
  const flagsOrSize = hasFlagsOutside(req.flags, allowed) || req.size === 0 ? commonRefusal(req, allowed, what, false) : null;
  const tooBig = commonRefusal(req, allowed, what, false);
  return flagsOrSize ?? badAr ?? tooBig ?? pv ?? commonRefusal(req, allowed, what, keyed) ?? bufferRefusal(req);
}

function bufferRefusal(req: MemOpRequest): Refusal | null {
  return !hasFlag(req.flags, MEMOP_F.CHECK_ONLY) && req.buf === null ? nullBuffer('buf') : null;
}

function sidaRefusal(req: MemOpRequest, protectedVcpu: boolean, sidaSize: number): Refusal | null {
  if (hasFlagsOutside(req.flags, 0)) return refuse(ERRNO.EINVAL, `flags ${hex(req.flags)}: SIDA ops take no flags`);
  if (req.size === 0) return refuse(ERRNO.EINVAL, 'size is 0: the kernel refuses an empty access');
  const end = req.size + req.sidaOffset;
  if (end >= U32_LIMIT) return refuse(ERRNO.EINVAL, `sidaOffset ${hex(req.sidaOffset)} + size ${req.size} overflows 32 bits`);
  // A vcpu that is not protected has a zero SIDA-size field, which the kernel reads as one page.
  const size = protectedVcpu ? sidaSize : PAGE_SIZE;
  if (end > size) return refuse(ERRNO.E2BIG, `sidaOffset ${hex(req.sidaOffset)} + size ${req.size} ends beyond the SIDA (${size} bytes)`);
  if (!protectedVcpu) return refuse(ERRNO.EINVAL, 'SIDA ops need a protected (PV) vcpu, and this vcpu is not protected');
  if (req.buf === null) return nullBuffer('buf');
  return null;
}

function vcpuRefusal(req: MemOpRequest, profile: KernelProfile, protectedVcpu: boolean, sidaSize: number): Refusal | null {
  switch (req.op) {
    case MEMOP.LOGICAL_READ:
    case MEMOP.LOGICAL_WRITE:
      return logicalRefusal(req, profile, protectedVcpu);
    case MEMOP.SIDA_READ:
    case MEMOP.SIDA_WRITE:
      return sidaRefusal(req, protectedVcpu, sidaSize);
    default:
      return refuse(
        ERRNO.EINVAL,
        `op ${req.op} is not valid on a vcpu fd, which takes LOGICAL_READ (0), LOGICAL_WRITE (1), SIDA_READ (2) and SIDA_WRITE (3)${req.op >= MEMOP.ABSOLUTE_READ && req.op <= MEMOP.ABSOLUTE_CMPXCHG ? '; absolute ops go to the vm fd' : ''}`,
      );
  }
}

/** Errnos the access itself produces after every argument check passed. */
function accessTimeReason(target: MemOpTarget, req: MemOpRequest, errno: number): string | null {
  if (errno === ERRNO.EFAULT && target.fd === 'vcpu' && PROFILES[target.profile].arTablesFaultOutsideMemory) {
    return `a table of access-register translation lies outside guest memory, which kernels before 6.12 answer with EFAULT (profile ${target.profile})`;
  }
  if (errno === ERRNO.EFAULT && req.buf === null) return `buf is NULL: the kernel copies ${req.op === MEMOP.LOGICAL_READ || req.op === MEMOP.ABSOLUTE_READ ? 'the data read to' : 'from'} that user address and faults`;
  if (errno === ERRNO.ENOMEM) return 'the kernel could not allocate its bounce buffer for the access';
  return null;
}

/**
 * The rule that refuses `req` with `errno` on `target`, in words; null when the model has no
 * rule that answers that errno (the caller then says so).
 */
export function memopRefusalReason(target: MemOpTarget, req: MemOpRequest, errno: number): string | null {
  const refusal = target.fd === 'vm' ? vmRefusal(req, target.profile) : vcpuRefusal(req, target.profile, target.protectedVcpu, target.sidaSize);
  if (refusal !== null && refusal.errno === errno) return refusal.reason;
  return accessTimeReason(target, req, errno);
}

/** The rule that refuses a GET_SKEYS / SET_SKEYS call with `errno`, in words; null when none does. */
export function skeysRefusalReason(
  call: 'get' | 'set',
  args: { startGfn: bigint; count: number; flags: number; keys?: Uint8Array; memorySize: bigint | undefined },
  errno: number,
): string | null {
  if (errno === ERRNO.EINVAL && args.flags !== 0) return `flags ${hex(args.flags)}: the kernel takes only 0`;
  if (errno === ERRNO.EINVAL && (args.count < 1 || args.count > SKEYS_MAX)) {
    return `count ${args.count} is outside 1..${SKEYS_MAX} (KVM_S390_SKEYS_MAX)`;
  }
  if (errno === ERRNO.EINVAL && call === 'set' && args.keys !== undefined) {
    const i = args.keys.findIndex((k) => (k & 0x01) !== 0);
    if (i >= 0) return `key byte ${i} (${hex(args.keys[i]!)}) has the reserved bit 7 set`;
  }
  if (errno === ERRNO.EFAULT) {
    const pages = args.memorySize === undefined ? undefined : args.memorySize / BigInt(PAGE_SIZE);
    const where = pages === undefined ? 'guest memory' : `guest memory (gfn 0..${hex(pages - 1n)})`;
    return `gfns ${hex(args.startGfn)}..${hex(args.startGfn + BigInt(Math.max(args.count, 1)) - 1n)} reach beyond ${where}`;
  }
  return null;
}

/** The rule that refuses a KVM_S390_KEYOP call with `errno`, in words; null when none does. */
export function keyopRefusalReason(profile: KernelProfile, operation: number, guestAddr: bigint, memorySize: bigint | undefined, errno: number): string | null {
  if (errno === ERRNO.ENOTTY && !PROFILES[profile].keyop) {
    return `KVM_S390_KEYOP came with the gmap rewrite (KVM_CAP_S390_KEYOP 247); profile ${profile} has no such ioctl`;
  }
  if (errno === ERRNO.EINVAL && operation !== KEYOP.ISKE && operation !== KEYOP.RRBE && operation !== KEYOP.SSKE) {
    return `operation ${operation} is not ISKE (1), RRBE (2) or SSKE (3)`;
  }
  if (errno === ERRNO.EFAULT) {
    return `guest address ${hex(guestAddr)} is outside guest memory${memorySize === undefined ? '' : ` (size ${hex(memorySize)})`}`;
  }
  return null;
}

/** The sentence for an errno no rule of the model explains. */
export function unexplainedRefusal(profile: KernelProfile, errno: number): string {
  return `no argument rule of the ${profile} profile answers ${errnoName(errno)} for this call; the kernel refused it for a reason the model does not know`;
}
