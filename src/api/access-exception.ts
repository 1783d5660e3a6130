import type { AccessFault } from '../errors.js';
import { AccessException } from '../errors.js';
import { pgmName } from '../abi/constants.js';

/** Builds the exception for a positive memop result, with the backend's reason when it has one. */
export function accessException(
  pgmCode: number,
  fault: AccessFault | null,
  what: { mode: 'fetch' | 'store'; gaddr: bigint; length: number; key: number | undefined; space: 'absolute' | 'logical' },
  bytesCompleted = 0,
): AccessException {
  if (fault !== null && fault.pgmCode === pgmCode) return new AccessException(pgmCode, fault.reason, bytesCompleted);
  const key = what.key === undefined ? 'without key checking' : `with key ${what.key}`;
  return new AccessException(
    pgmCode,
    `${what.mode} of ${what.length} bytes at ${what.space} 0x${what.gaddr.toString(16)} ${key}: the kernel answered ${pgmName(pgmCode)} and does not say which rule`,
    bytesCompleted,
  );
}
