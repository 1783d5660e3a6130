// The three kinds of failure a caller sees:
//  - KvmError: the kernel (or the model of it) refused the ioctl with an errno;
//  - AccessException: the access itself raised a program interruption (a positive result);
//  - argument errors (RangeError/TypeError with a Node-style code): refused before any ioctl.
import { ERRNO, errnoName, pgmName, type ErrnoName, type PgmName } from './abi/constants.js';

/** An errno name: one of the errnos this interface produces, or `E<n>` for any other. */
export type KvmErrorCode = ErrnoName | `E${number}`;

export class KvmError extends Error {
  override readonly name = 'KvmError';
  /** Errno name, like Node's system errors: 'EINVAL', 'E2BIG', … */
  readonly code: KvmErrorCode;
  /** Positive errno value. */
  readonly errno: number;
  /** The system call or ioctl that failed, e.g. 'KVM_S390_MEM_OP'. */
  readonly syscall: string;
  /** The rule that refused the call, in one sentence; null only when nothing is known. */
  readonly reason: string | null;
  /**
   * True when `reason` is inferred rather than known: real KVM answers a bare errno, and the
   * model of the host's kernel profile names the rule that most likely refused the call.
   */
  readonly reasonIsLikely: boolean;

  constructor(errno: number, syscall: string, reason?: string | null, opts: { likely?: boolean } = {}) {
    const code = errnoName(errno) as KvmErrorCode;
    const likely = opts.likely === true && !!reason;
    super(`${syscall} failed: ${code}${reason ? ` (${likely ? 'likely: ' : ''}${reason})` : ''}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.reason = reason || null;
    this.reasonIsLikely = likely;
  }

  static of(code: ErrnoName, syscall: string, reason?: string): KvmError {
    return new KvmError(ERRNO[code], syscall, reason);
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
  readonly code: PgmName;
  readonly reason: string;
  /**
   * For `read`/`write` above 65536 bytes, which run as several memops: the bytes before the
   * refused memop, all transferred. 0 for a single memop.
   */
  readonly bytesCompleted: number;

  constructor(pgmCode: number, reason: string, bytesCompleted = 0) {
    const code = pgmName(pgmCode);
    super(`${code} (0x${pgmCode.toString(16).padStart(2, '0')}): ${reason}${bytesCompleted > 0 ? ` (after ${bytesCompleted} bytes of earlier memops were transferred)` : ''}`);
    this.pgmCode = pgmCode;
    this.code = code;
    this.reason = reason;
    this.bytesCompleted = bytesCompleted;
  }
}

type ArgErrorCode = 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_TYPE' | 'ERR_BUFFER_TOO_SMALL' | 'ERR_INVALID_ARG_VALUE';

export class ArgumentRangeError extends RangeError {
  readonly code: ArgErrorCode;
  constructor(code: ArgErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export class ArgumentTypeError extends TypeError {
  readonly code: ArgErrorCode;
  constructor(message: string) {
    super(message);
    this.code = 'ERR_INVALID_ARG_TYPE';
  }
}
