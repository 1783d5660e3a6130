// What a vcpu state must satisfy before it is loaded. A real kernel only finds out inside
// KVM_RUN: an invalid PSW there is a validity intercept (EINVAL and a kernel warning) or a
// program interruption the guest then handles with code from its program-new PSW, and a prefix
// outside guest memory makes every later KVM_RUN fail. Refusing both up front, on every backend,
// keeps the emulated and the real vcpu in step and says which bit or address is wrong.
import { PREFIX_AREA, PREFIX_MASK } from '../abi/constants.js';
import { ArgumentRangeError } from '../errors.js';

/** s390 PSW bit n (bit 0 is the most significant bit of the 64-bit mask). */
const bit = (n: number): bigint => 1n << BigInt(63 - n);
const bits = (from: number, to: number): bigint => {
  let m = 0n;
  for (let n = from; n <= to; n++) m |= bit(n);
  return m;
};

/** Mask bits that z/Architecture leaves unassigned and requires to be zero. */
const UNASSIGNED: readonly (readonly [bigint, string])[] = [
  [bit(0), 'bit 0'],
  [bits(2, 4), 'bits 2-4'],
  [bit(12), 'bit 12'],
  [bits(24, 30), 'bits 24-30'],
  [bits(33, 63), 'bits 33-63'],
];
const EXTENDED_ADDRESSING = bit(31);
const BASIC_ADDRESSING = bit(32);


/** Why `psw` cannot be loaded, or null when it can. */
export function invalidPswReason(mask: bigint, addr: bigint): string | null {
  const set = UNASSIGNED.filter(([m]) => (mask & m) !== 0n).map(([, name]) => name);
  if (set.length) return `unassigned PSW ${set.join(', ')} set (mask ${hex(mask)})`;
  const ea = (mask & EXTENDED_ADDRESSING) !== 0n;
  const ba = (mask & BASIC_ADDRESSING) !== 0n;
  if (ea && !ba) return `PSW bit 31 (extended addressing) without bit 32 (basic addressing) is no addressing mode (mask ${hex(mask)})`;
  if (!ea && ba && addr > 0x7fffffffn) return `PSW address ${hex(addr)} does not fit 31-bit addressing mode`;
  if (!ea && !ba && addr > 0xffffffn) return `PSW address ${hex(addr)} does not fit 24-bit addressing mode`;
  if ((addr & 1n) !== 0n) return `PSW address ${hex(addr)} is odd (instructions are halfword aligned)`;
  return null;
}

export function checkPsw(mask: bigint, addr: bigint): void {
  const why = invalidPswReason(mask, addr);
  if (why !== null) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `invalid PSW: ${why}; a real vcpu would stop with a validity intercept or a specification exception`);
}

/** The prefix register holds bits 1-18 of the address; both prefix pages must be guest memory. */
export function checkPrefix(prefix: number, memorySize: bigint): void {
  const origin = prefix & PREFIX_MASK;
  if (BigInt(origin + PREFIX_AREA) > memorySize) {
    throw new ArgumentRangeError(
      'ERR_OUT_OF_RANGE',
      `prefix ${hex(BigInt(prefix))} puts the lowcore at ${hex(BigInt(origin))}-${hex(BigInt(origin + PREFIX_AREA - 1))}, outside the ${hex(memorySize)} bytes of guest memory (a real vcpu could no longer run)`,
    );
  }
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}
