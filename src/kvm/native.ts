// The shape of the native addon (native/*.cc). Every function returns the kernel's answer as
// a number: >= 0, or -errno. Wrong argument types throw TypeError (code ERR_INVALID_ARG_TYPE),
// out-of-range values RangeError (code ERR_OUT_OF_RANGE), a memop buffer that holds fewer bytes
// than the descriptor's size (detached, shrunk or short) RangeError ERR_BUFFER_OUT_OF_BOUNDS.

/** A memory mapping owned by the addon (guest memory or a vcpu's kvm_run). */
export interface NativeMapping {
  readonly size: number;
  readonly mapped: boolean;
  /** munmap; idempotent. 0 or -errno. */
  unmap(): number;
  readU64(offset: number): bigint;
  writeU64(offset: number, value: bigint | number): void;
  readU32(offset: number): number;
  writeU32(offset: number, value: number): void;
}

/** What abi() reports: the numbers and layouts the addon was compiled with. */
export interface NativeAbi {
  arch: string;
  byteOrder: 'big' | 'little';
  /** The build host's <linux/kvm.h> was present and static_asserts compared it with ours. */
  checkedAgainstHeader: boolean;
  /** The s390 kvm_run/sregs/sync-register layout was compared with the s390 header. */
  checkedAgainstS390Header: boolean;
  ioctl: Record<string, number>;
  cap: Record<string, number>;
  memop: Record<string, number>;
  memopFlags: Record<string, number>;
  memopExtension: Record<string, number>;
  keyop: Record<string, number>;
  /** A memop channel's shared memory: its size and where the result of a call goes. */
  channel: { size: number; resultOffset: number };
  sync: Record<string, number>;
  limits: Record<string, number>;
  sizes: Record<string, number>;
  offsets: Record<string, Record<string, number>>;
}

export interface NativeMemOpChannel {
  /** What channelMemop takes to find this channel. */
  readonly id: number;
  /** The channel's memory (CHANNEL_LAYOUT in descriptor.ts): the descriptor, then the last result. */
  readonly shared: ArrayBuffer;
}

export interface NativeAddon {
  openDevice(path: string): number;
  close(fd: number): number;
  getApiVersion(fd: number): number;
  checkExtension(fd: number, cap: number): number;
  createVm(kvmFd: number, type: number): number;
  getVcpuMmapSize(kvmFd: number): number;
  createVcpu(vmFd: number, id: number): number;
  /** Anonymous memory, start aligned to 1 MiB; a Mapping or -errno. */
  mmapGuest(size: bigint | number): NativeMapping | number;
  /**
   * The vcpu's kvm_run area, KVM_GET_VCPU_MMAP_SIZE bytes as `kvmFd` (/dev/kvm) answers;
   * -errno, or -ENODEV when `vcpuFd` is not a KVM vcpu.
   */
  mmapVcpu(kvmFd: number, vcpuFd: number): NativeMapping | number;
  setUserMemoryRegion(vmFd: number, slot: number, flags: number, guestPhysAddr: bigint | number, memory: NativeMapping): number;
  run(vcpuFd: number): number;
  /** 0 initial, 1 normal, 2 clear. */
  reset(vcpuFd: number, kind: 0 | 1 | 2): number;
  getSregs(vcpuFd: number, out: Uint8Array): number;
  setSregs(vcpuFd: number, sregs: Uint8Array): number;
  /** KVM_GET_DEVICE_ATTR KVM_S390_VM_CPU_MODEL/PROCESSOR: struct kvm_s390_vm_cpu_processor into `out`. */
  getCpuProcessor(vmFd: number, out: Uint8Array): number;
  /** Bytes written (a multiple of 72) or -errno. */
  getIrqState(vcpuFd: number, out: Uint8Array): number;
  setIrqState(vcpuFd: number, irqs: Uint8Array): number;
  /** `desc`: 64-byte struct kvm_s390_mem_op in host order; its buf/old_addr are replaced. */
  memop(fd: number, desc: Uint8Array, buf: Uint8Array | null, old: Uint8Array | null): number;
  /** Memory in the addon for memops on `fd` through channelMemop: a descriptor (64 bytes, as `memop`'s `desc`) and a result. */
  createMemOpChannel(fd: number): NativeMemOpChannel;
  /**
   * `memop(channel's fd, channel's descriptor, buf, old)` with less work per call; the
   * result goes to the channel's memory, the call returns undefined. One function for every
   * channel, so a call site that serves several handles stays monomorphic in V8.
   */
  channelMemop(id: number, buf: Uint8Array | null, old?: Uint8Array | null): void;
  /** The same ioctl `iterations` times in C: [elapsed ns, last result]. */
  memopLoop(fd: number, desc: Uint8Array, buf: Uint8Array | null, old: Uint8Array | null, iterations: number): [bigint, number];
  /** The 64 bytes memop() would pass to the kernel. */
  memopStructForTest(fd: number, desc: Uint8Array, buf: Uint8Array | null, old: Uint8Array | null): Uint8Array;
  getSkeys(vmFd: number, startGfn: bigint | number, count: bigint | number, out: Uint8Array, flags: number): number;
  setSkeys(vmFd: number, startGfn: bigint | number, keys: Uint8Array, flags: number): number;
  /** KVM_S390_KEYOP: the key byte the kernel wrote back (0..255), or -errno. */
  keyop(vmFd: number, guestAddr: bigint | number, operation: number, key: number): number;
  abi(): NativeAbi;
  encodeMemOpForTest(
    gaddr: bigint | number,
    flags: bigint | number,
    size: number,
    op: number,
    buf: bigint | number,
    ar: number,
    key: number,
    oldAddr: bigint | number,
    sidaOffset?: number,
  ): Uint8Array;
}
