// An emulated vcpu: the SIE-block state a memop reads (PSW, CRs, prefix), the access
// registers, a queued program interrupt, and — for a protected vcpu — its SIDA.
import { ERRNO, MEMOP, NUM_ACRS, NUM_CRS, PAGE_SIZE, PREFIX_AREA, PREFIX_MASK } from '../abi/constants.js';
import type {
  MemOpRequest,
  ProgramInterrupt,
  ResetKind,
  VcpuHandle,
  VcpuOptions,
  VcpuState,
  VcpuStateUpdate,
} from '../contract.js';
import type { AccessFault } from '../errors.js';
import type { EmulatedVm } from './vm.js';
import { logicalMemop, newLogicalAccess, type LogicalAccess } from './logical-memop.js';
import { checkBuffersHold } from './buffers.js';
import { sidaMemop } from './sida.js';
import { TranslationBuffer } from './tlb.js';

/** CR0 and CR14 after an initial or clear reset (docs/memop-semantics.md §11). */
export const RESET_CR0 = 0xe0n;
export const RESET_CR14 = 0xc2000000n;

export class EmulatedVcpu implements VcpuHandle {
  readonly id: number;
  readonly vm: EmulatedVm;
  pswMask = 0n;
  pswAddr = 0n;
  readonly cr: bigint[] = new Array<bigint>(NUM_CRS).fill(0n);
  readonly ar: number[] = new Array<number>(NUM_ACRS).fill(0);
  prefix = 0;
  /** The PSW mask and CRs as 32-bit halves, kept in step with the bigints for the hot path. */
  pswHi = 0;
  pswLo = 0;
  readonly crHi = new Uint32Array(NUM_CRS);
  readonly crLo = new Uint32Array(NUM_CRS);
  pending: ProgramInterrupt | null = null;
  /** Recent DAT translations of this vcpu's logical accesses; emptied by every state change. */
  readonly tlb = new TranslationBuffer();
  /** Secure-instruction data area; null unless the vcpu is protected (released on close). */
  sida: Uint8Array | null;
  readonly #protected: boolean;
  /** This vcpu's logical-access scratch state. */
  readonly logicalAccess: LogicalAccess;
  #closed = false;
  readonly #onClose: () => void;

  /** `opts.sidaPages` is checked by the API (1..256) before it gets here. */
  constructor(vm: EmulatedVm, id: number, opts: VcpuOptions, onClose: () => void) {
    this.vm = vm;
    this.id = id;
    this.#protected = opts.protected === true;
    this.sida = this.#protected ? new Uint8Array((opts.sidaPages ?? 1) * PAGE_SIZE) : null;
    this.logicalAccess = newLogicalAccess(this);
    this.#onClose = onClose;
  }

  get isProtected(): boolean {
    return this.#protected;
  }

  memop(req: MemOpRequest): number {
    checkBuffersHold(req);
    this.vm.faults.clear();
    switch (req.op) {
      case MEMOP.LOGICAL_READ:
      case MEMOP.LOGICAL_WRITE:
        return logicalMemop(this, req);
      case MEMOP.SIDA_READ:
      case MEMOP.SIDA_WRITE:
        return sidaMemop(this, req);
      default:
        return -ERRNO.EINVAL;
    }
  }

  getState(): VcpuState {
    return {
      psw: { mask: this.pswMask, addr: this.pswAddr },
      cr: this.cr.slice(),
      ar: this.ar.slice(),
      prefix: this.prefix,
    };
  }

  setState(update: VcpuStateUpdate): void {
    if (update.psw !== undefined) {
      this.pswMask = update.psw.mask;
      this.pswAddr = update.psw.addr;
    }
    if (update.cr !== undefined) for (let i = 0; i < NUM_CRS; i++) this.cr[i] = update.cr[i]!;
    if (update.ar !== undefined) for (let i = 0; i < NUM_ACRS; i++) this.ar[i] = update.ar[i]!;
    if (update.prefix !== undefined) this.prefix = update.prefix & PREFIX_MASK;
    // Loading a PSW or prefix is a KVM_RUN on a real host, whose entry protects the two prefix
    // pages in the host mapping (gmap_mprotect_notify): that faults them in.
    if (update.psw !== undefined || update.prefix !== undefined) this.vm.storage.touchRange(this.prefix, PREFIX_AREA);
    this.#syncWords();
    this.tlb.flush();
  }

  #syncWords(): void {
    this.pswHi = Number(this.pswMask >> 32n);
    this.pswLo = Number(this.pswMask & 0xffffffffn);
    for (let i = 0; i < NUM_CRS; i++) {
      this.crHi[i] = Number(this.cr[i]! >> 32n);
      this.crLo[i] = Number(this.cr[i]! & 0xffffffffn);
    }
  }

  reset(kind: ResetKind): void {
    this.pswMask = 0n;
    this.pswAddr = 0n;
    this.prefix = 0;
    this.cr.fill(0n);
    this.cr[0] = RESET_CR0;
    this.cr[14] = RESET_CR14;
    if (kind === 'clear') this.ar.fill(0);
    this.pending = null;
    this.#syncWords();
    this.tlb.flush();
  }

  pendingProgramInterrupt(): ProgramInterrupt | null {
    return this.pending === null ? null : { ...this.pending };
  }

  clearPendingInterrupts(): void {
    this.pending = null;
  }

  lastFault(): AccessFault | null {
    return this.vm.faults.last;
  }

  /** The kernel keeps the vcpu until its VM goes; the model keeps only its id (see EmulatedVm). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sida = null;
    this.#onClose();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
