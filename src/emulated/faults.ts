// Records why an emulated access failed, so AccessException can say it in words. Nothing is
// allocated on the success path: a fault object is made only when an access is refused.
import type { AccessFault } from '../errors.js';

export class FaultRecorder {
  #last: AccessFault | null = null;

  clear(): void {
    this.#last = null;
  }

  /** Records the fault and returns its code, so callers can `return rec.fail(code, why)`. */
  fail(pgmCode: number, reason: string): number {
    this.#last = { pgmCode, reason };
    return pgmCode;
  }

  get last(): AccessFault | null {
    return this.#last;
  }
}

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
