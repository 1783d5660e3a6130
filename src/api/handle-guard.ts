// Use after close is the kernel's EBADF on every backend, decided here once.
import { ERRNO } from '../abi/constants.js';
import { KvmError } from '../errors.js';

export class Closable {
  #closed = false;

  protected assertOpen(syscall: string): void {
    if (this.#closed) throw new KvmError(ERRNO.EBADF, syscall, 'the handle was closed');
  }

  /** True after `close()`: every later call throws KvmError `EBADF`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the handle closed; returns false when it already was. */
  protected markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }
}
