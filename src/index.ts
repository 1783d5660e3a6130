// kvm-s390: key-checked access to s390x KVM guest memory, on real KVM or a bit-exact model.
import './disposable.js';
export { openBackend, Backend, type OpenBackendOptions, type CreateVmOptions } from './api/backend.js';
export { Vm, type KeyOption, type CompareAndExchangeResult, type SkeysOptions } from './api/vm.js';
export { Vcpu, type LogicalAccessOptions, type VcpuCreateOptions, type VcpuStateChange } from './api/vcpu.js';
export type { MemOpDesc } from './api/arguments.js';
export { KvmError, AccessException, ArgumentRangeError, ArgumentTypeError, type AccessFault, type KvmErrorCode, type ArgErrorCode } from './errors.js';
export {
  MEMOP,
  MEMOP_F,
  MEMOP_EXT,
  KEYOP,
  STORAGE_KEY,
  CAP,
  CAP_NAMES,
  PGM,
  ERRNO,
  IOCTL,
  SYNC,
  MEM_OP_MAX_SIZE,
  SKEYS_MAX,
  GET_SKEYS_NONE,
  PAGE_SIZE,
  pgmName,
  errnoName,
  type MemOpCode,
  type PgmCode,
  type PgmName,
  type ErrnoName,
} from './abi/constants.js';
export { encodeMemOp, decodeMemOp, encodeSkeys, decodeSkeys, HOST_BYTE_ORDER, type ByteOrder, type MemOpStruct, type SkeysStruct } from './abi/structs.js';
export {
  KERNEL_PROFILES,
  type KernelProfile,
  type BackendKind,
  type Psw,
  type VcpuState,
  type VcpuStateUpdate,
  type ProgramInterrupt,
  type ResetKind,
  type GuestFacilities,
} from './contract.js';
export { PageTableBuilder, type GuestMemoryWriter, type PageTableBuilderOptions, type MapOptions, type TopLevel, type FrameSize } from './guest-tables/page-table-builder.js';
export {
  ALL_CASES,
  runCase,
  runCases,
  selectCases,
  SkipCase,
  type RunOptions,
  type CaseContext,
  type CaseResult,
  type CaseStatus,
  type ConformanceCase,
} from './conformance/index.js';
