// The three kinds of failure a caller sees:
//  - KvmError: the kernel (or the model of it) refused the ioctl with an errno;
//  - AccessException: the access itself raised a program interruption (a positive result);
//  - argument errors (RangeError/TypeError with a Node-style code): refused before any ioctl.
import { ERRNO, errnoName, pgmName } from './abi/constants.js';

export class KvmError extends Error {
  override readonly name = 'KvmError';
  /** Errno name, like Node's system errors: 'EINVAL', 'E2BIG', … */
  readonly code: string;
  /** Positive errno value. */
  readonly errno: number;
  /** The system call or ioctl that failed, e.g. 'KVM_S390_MEM_OP'. */
  readonly syscall: string;

  constructor(errno: number, syscall: string, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }

  static of(code: keyof typeof ERRNO, syscall: string, detail?: string): KvmError {
    return new KvmError(ERRNO[code], syscall, detail);
  }
}

/** Why an access was refused, as far as the backend can tell. */
export interface AccessFault {
  /** Program-interruption code. */
  readonly pgmCode: number;
  /** One sentence naming the rule, the address and the values involved. */
  readonly reason: string;
}

export class AccessException extends Error {
  override readonly name = 'AccessException';
  readonly pgmCode: number;
  /** 'PGM_PROTECTION', 'PGM_ADDRESSING', … */
  readonly code: string;
  readonly reason: string;

  constructor(pgmCode: number, reason: string) {
    const code = pgmName(pgmCode);
    super(`${code} (0x${pgmCode.toString(16).padStart(2, '0')}): ${reason}`);
    this.pgmCode = pgmCode;
    this.code = code;
    this.reason = reason;
  }
}

type ArgErrorCode =
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_BUFFER_TOO_SMALL'
  | 'ERR_INVALID_ARG_VALUE'
  /** A buffer that held enough bytes when the call began no longer does where it is used. */
  | 'ERR_BUFFER_OUT_OF_BOUNDS';

export class ArgumentRangeError extends RangeError {
  readonly code: ArgErrorCode;
  constructor(code: ArgErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class ArgumentTypeError extends TypeError {
  readonly code: ArgErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = 'ERR_INVALID_ARG_TYPE';
  }
}

/**
 * The error both backends throw when a buffer was detached or shrunk between the argument
 * check and the access (the addon throws a RangeError with the same code).
 */
export function bufferOutOfBounds(name: string, holds: number, size: number): ArgumentRangeError {
  return new ArgumentRangeError(
    'ERR_BUFFER_OUT_OF_BOUNDS',
    `"${name}" holds ${holds} bytes where the access needs ${size}: its ArrayBuffer was detached or shrunk during the call`,
  );
}
