// The three kinds of failure a caller sees:
//  - KvmError: the kernel (or the model of it) refused the ioctl with an errno;
//  - AccessException: the access itself raised a program interruption (a positive result);
//  - argument errors (RangeError/TypeError with a Node-style code): refused before any ioctl.
import { ERRNO, errnoName, pgmName, type ErrnoName, type PgmName } from './abi/constants.js';

/**
 * An errno name: one of the errnos this interface produces, or `E<n>` for any other.
 *
 * @example
 * ```ts
 * const code: KvmErrorCode = 'E2BIG';
 * ```
 */
export type KvmErrorCode = ErrnoName | `E${number}`;

/**
 * The kernel (or its model) refused the call with an errno. `code` is the errno name, as in
 * Node's system errors; `reason` names the rule that refused it — known on the emulated
 * backend, the model's best guess on real KVM (`reasonIsLikely`).
 *
 * @example
 * ```ts
 * try {
 *   vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 0, buf: null });
 * } catch (err) {
 *   if (err instanceof KvmError) console.log(err.code, err.reason); // EINVAL size is 0: …
 * }
 * ```
 */
export class KvmError extends Error {
  /** 'KvmError'. */
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

  /**
   * A KvmError for `errno` from `syscall`.
   *
   * @param errno - The positive errno value.
   * @param syscall - The system call or ioctl, e.g. 'KVM_S390_MEM_OP'.
   * @param reason - The rule that refused the call, in one sentence.
   * @param opts - `likely`: the reason is inferred, not known.
   */
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

  /**
   * A KvmError from an errno name.
   *
   * @param code - The errno name, e.g. 'EBADF'.
   * @param syscall - The system call or ioctl.
   * @param reason - The rule that refused the call.
   * @returns The error.
   * @throws Nothing.
   */
  static of(code: ErrnoName, syscall: string, reason?: string): KvmError {
    return new KvmError(ERRNO[code], syscall, reason);
  }
}

/**
 * Why an access was refused, as far as the backend can tell.
 *
 * @example
 * ```ts
 * const fault: AccessFault = { pgmCode: PGM.PROTECTION, reason: 'store with key 5 …' };
 * ```
 */
export interface AccessFault {
  /** Program-interruption code. */
  readonly pgmCode: number;
  /** One sentence naming the rule, the address and the values involved. */
  readonly reason: string;
}

/**
 * The access raised a program interruption (the memop returned a positive code): thrown by
 * the `read`/`write`/`compareAndExchange` helpers, with the rule in `reason`.
 *
 * @example
 * ```ts
 * try {
 *   vm.read(1n << 40n, 8);
 * } catch (err) {
 *   if (err instanceof AccessException) console.log(err.code); // PGM_ADDRESSING
 * }
 * ```
 */
export class AccessException extends Error {
  /** 'AccessException'. */
  override readonly name = 'AccessException';
  /** The program-interruption code the memop returned (`PGM.*`). */
  readonly pgmCode: number;
  /** 'PGM_PROTECTION', 'PGM_ADDRESSING', … */
  readonly code: PgmName;
  /** One sentence naming the rule, the address and the values involved. */
  readonly reason: string;
  /**
   * For `read`/`write` above 65536 bytes, which run as several memops: the bytes before the
   * refused memop, all transferred. 0 for a single memop.
   */
  readonly bytesCompleted: number;

  /**
   * An AccessException for `pgmCode`.
   *
   * @param pgmCode - The program-interruption code.
   * @param reason - One sentence naming the rule.
   * @param bytesCompleted - Bytes transferred by earlier memops of a split access.
   */
  constructor(pgmCode: number, reason: string, bytesCompleted = 0) {
    const code = pgmName(pgmCode);
    super(`${code} (0x${pgmCode.toString(16).padStart(2, '0')}): ${reason}${bytesCompleted > 0 ? ` (after ${bytesCompleted} bytes of earlier memops were transferred)` : ''}`);
    this.pgmCode = pgmCode;
    this.code = code;
    this.reason = reason;
    this.bytesCompleted = bytesCompleted;
  }
}

/**
 * The Node-style codes of argument errors. `ERR_BUFFER_OUT_OF_BOUNDS`: a buffer that held
 * enough bytes when the call began no longer does where it is used (detached or shrunk).
 *
 * @example
 * ```ts
 * const code: ArgErrorCode = 'ERR_OUT_OF_RANGE';
 * ```
 */
export type ArgErrorCode =
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_BUFFER_TOO_SMALL'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_BUFFER_OUT_OF_BOUNDS';

/**
 * An argument out of range, refused before any ioctl, with a Node-style `code`.
 *
 * @example
 * ```ts
 * try {
 *   vm.read(-1, 8);
 * } catch (err) {
 *   if (err instanceof ArgumentRangeError) console.log(err.code); // ERR_OUT_OF_RANGE
 * }
 * ```
 */
export class ArgumentRangeError extends RangeError {
  /** The Node-style code: 'ERR_OUT_OF_RANGE', 'ERR_BUFFER_TOO_SMALL', 'ERR_INVALID_ARG_VALUE', 'ERR_BUFFER_OUT_OF_BOUNDS'. */
  readonly code: ArgErrorCode;
  /**
   * An ArgumentRangeError with a Node-style code.
   *
   * @param code - The Node-style code.
   * @param message - What was wrong, with the value received.
   * @param options - `cause`: the error that made the argument unusable (a throwing getter).
   */
  constructor(code: ArgErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * An argument of the wrong type, refused before any ioctl: `code` is 'ERR_INVALID_ARG_TYPE'.
 *
 * @example
 * ```ts
 * try {
 *   vm.read('0x1000' as never, 8);
 * } catch (err) {
 *   if (err instanceof ArgumentTypeError) console.log(err.code); // ERR_INVALID_ARG_TYPE
 * }
 * ```
 */
export class ArgumentTypeError extends TypeError {
  /** Always 'ERR_INVALID_ARG_TYPE'. */
  readonly code: ArgErrorCode;
  /**
   * An ArgumentTypeError ('ERR_INVALID_ARG_TYPE').
   *
   * @param message - What was wrong, with the value received.
   * @param options - `cause`: the error that made the argument unusable (a throwing getter).
   */
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
