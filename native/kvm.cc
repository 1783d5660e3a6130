// Thin wrappers over the KVM system calls. No policy: each returns the kernel's answer as a
// number (>= 0, or -errno) and throws only for arguments that are not what the call needs.
#include "kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "abi.h"
#include "args.h"
#include "mapping.h"

namespace kvms390 {

namespace {

long Ioctl(int fd, unsigned long request, unsigned long arg) {
  int r = ::ioctl(fd, request, arg);
  return r < 0 ? -errno : r;
}

long IoctlPtr(int fd, unsigned long request, void* arg) {
  int r = ::ioctl(fd, request, arg);
  return r < 0 ? -errno : r;
}

// A Uint8Array argument of exactly `size` bytes.
bool ArgStruct(const Napi::CallbackInfo& info, size_t i, const char* name, size_t size, uint8_t** data) {
  size_t len;
  if (!ArgBytes(info, i, name, false, data, &len)) return false;
  if (len != size) {
    ThrowRangeError(info.Env(), std::string("The \"") + name + "\" argument must be " + std::to_string(size) + " bytes long");
    return false;
  }
  return true;
}

}  // namespace

Napi::Value OpenDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    ThrowTypeError(env, "The \"path\" argument must be of type string");
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.size() > 4096 || path.find('\0') != std::string::npos) {
    ThrowRangeError(env, "The \"path\" argument must be a non-empty path without NUL bytes");
    return env.Undefined();
  }
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  return Result(env, fd < 0 ? -errno : fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  return Result(info.Env(), close(fd) == 0 ? 0 : -errno);
}

Napi::Value GetApiVersion(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::GET_API_VERSION, 0));
}

// Works on /dev/kvm and on a vm fd alike.
Napi::Value CheckExtension(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t c;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgU32(info, 1, "cap", &c)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::CHECK_EXTENSION, c));
}

Napi::Value CreateVm(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t type;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgU32(info, 1, "type", &type)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::CREATE_VM, type));
}

Napi::Value GetVcpuMmapSize(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::GET_VCPU_MMAP_SIZE, 0));
}

Napi::Value CreateVcpu(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t id;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgU32(info, 1, "id", &id)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::CREATE_VCPU, id));
}

// Anonymous guest memory whose start is 1 MiB aligned (s390 memslots need it): map 1 MiB
// more than asked, then give back the unaligned head and the tail.
Napi::Value MmapGuest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size;
  if (!ArgU64(info, 0, "size", &size)) return env.Undefined();
  if (size == 0 || size % kMemslotAlignment != 0 || size > (uint64_t{1} << 46)) {
    ThrowRangeError(env, "The \"size\" argument must be a positive multiple of 1 MiB up to 64 TiB");
    return env.Undefined();
  }
  size_t span = static_cast<size_t>(size) + kMemslotAlignment;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Result(env, -errno);
  uintptr_t start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + kMemslotAlignment - 1) & ~(uintptr_t{kMemslotAlignment} - 1);
  size_t head = aligned - start;
  size_t tail = span - head - static_cast<size_t>(size);
  if (head != 0) munmap(p, head);
  if (tail != 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  return Mapping::New(env, reinterpret_cast<void*>(aligned), static_cast<size_t>(size));
}

// True when `fd` is a KVM vcpu: an anonymous inode the kernel names "kvm-vcpu:<id>". Any other
// file could be shorter than the mapping, and touching a page past its end raises SIGBUS.
static bool IsVcpuFd(int fd) {
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
  if (n < 0) return false;
  link[n] = '\0';
  return std::strncmp(link, "anon_inode:kvm-vcpu:", 20) == 0;
}

// The vcpu's shared kvm_run area, exactly KVM_GET_VCPU_MMAP_SIZE bytes as /dev/kvm (kvmFd)
// answers it: the size is never taken from JavaScript. -errno from that ioctl or mmap;
// -ENODEV when vcpuFd is not a KVM vcpu.
Napi::Value MmapVcpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kvm_fd, fd;
  if (!ArgFd(info, 0, "kvmFd", &kvm_fd) || !ArgFd(info, 1, "vcpuFd", &fd)) return env.Undefined();
  long size = Ioctl(kvm_fd, ioctl::GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) return Result(env, size);
  if (size < static_cast<long>(sizeof(RunHead)) || size > (64l << 20)) return Result(env, -EINVAL);
  if (!IsVcpuFd(fd)) return Result(env, -ENODEV);
  void* p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Result(env, -errno);
  return Mapping::New(env, p, static_cast<size_t>(size));
}

Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint32_t slot, flags;
  uint64_t gpa;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgU32(info, 1, "slot", &slot) || !ArgU32(info, 2, "flags", &flags) ||
      !ArgU64(info, 3, "guestPhysAddr", &gpa))
    return env.Undefined();
  Mapping* m = Mapping::FromValue(env, info[4]);
  if (m == nullptr) {
    ThrowTypeError(env, "The \"memory\" argument must be a Mapping returned by mmapGuest()");
    return env.Undefined();
  }
  if (m->addr() == nullptr) return Result(env, -EFAULT);
  UserMemoryRegion r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = m->size();
  r.userspace_addr = reinterpret_cast<uintptr_t>(m->addr());
  return Result(env, IoctlPtr(fd, ioctl::SET_USER_MEMORY_REGION, &r));
}

// KVM_RUN on the calling thread (vcpu ioctls must come from one thread; we never leave it).
Napi::Value Run(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "vcpuFd", &fd)) return info.Env().Undefined();
  return Result(info.Env(), Ioctl(fd, ioctl::RUN, 0));
}

// kind: 0 = KVM_S390_INITIAL_RESET, 1 = KVM_S390_NORMAL_RESET, 2 = KVM_S390_CLEAR_RESET.
Napi::Value Reset(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t kind;
  if (!ArgFd(info, 0, "vcpuFd", &fd) || !ArgU32(info, 1, "kind", &kind)) return info.Env().Undefined();
  static const uint32_t requests[] = {ioctl::S390_INITIAL_RESET, ioctl::S390_NORMAL_RESET, ioctl::S390_CLEAR_RESET};
  if (kind > 2) {
    ThrowRangeError(info.Env(), "The \"kind\" argument must be 0 (initial), 1 (normal) or 2 (clear)");
    return info.Env().Undefined();
  }
  return Result(info.Env(), Ioctl(fd, requests[kind], 0));
}

Napi::Value GetSregs(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* out;
  if (!ArgFd(info, 0, "vcpuFd", &fd) || !ArgStruct(info, 1, "out", sizeof(Sregs), &out)) return info.Env().Undefined();
  Sregs s{};
  long r = IoctlPtr(fd, ioctl::GET_SREGS, &s);
  if (r >= 0) std::memcpy(out, &s, sizeof s);
  return Result(info.Env(), r);
}

// KVM_GET_DEVICE_ATTR of the vm's guest CPU model into `out` (struct kvm_s390_vm_cpu_processor).
Napi::Value GetCpuProcessor(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* out;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgStruct(info, 1, "out", sizeof(CpuProcessor), &out)) return info.Env().Undefined();
  CpuProcessor p{};
  DeviceAttr a{};
  a.group = cpu_model::GROUP;
  a.attr = cpu_model::PROCESSOR;
  a.addr = reinterpret_cast<uintptr_t>(&p);
  long r = IoctlPtr(fd, ioctl::GET_DEVICE_ATTR, &a);
  if (r >= 0) std::memcpy(out, &p, sizeof p);
  return Result(info.Env(), r);
}

Napi::Value SetSregs(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* in;
  if (!ArgFd(info, 0, "vcpuFd", &fd) || !ArgStruct(info, 1, "sregs", sizeof(Sregs), &in)) return info.Env().Undefined();
  Sregs s;
  std::memcpy(&s, in, sizeof s);
  return Result(info.Env(), IoctlPtr(fd, ioctl::SET_SREGS, &s));
}

// KVM_S390_GET_IRQ_STATE into `out` (a whole number of 72-byte kvm_s390_irq records):
// bytes written, or -errno (ENOBUFS when `out` is too small).
Napi::Value GetIrqState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* out;
  size_t len;
  if (!ArgFd(info, 0, "vcpuFd", &fd) || !ArgBytes(info, 1, "out", false, &out, &len)) return env.Undefined();
  if (len % sizeof(Irq) != 0 || len > (1u << 24)) {
    ThrowRangeError(env, "The \"out\" argument must hold a whole number of 72-byte records (at most 16 MiB)");
    return env.Undefined();
  }
  IrqState s{};
  s.buf = reinterpret_cast<uintptr_t>(out);
  s.len = static_cast<uint32_t>(len);
  return Result(env, IoctlPtr(fd, ioctl::S390_GET_IRQ_STATE, &s));
}

Napi::Value SetIrqState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* in;
  size_t len;
  if (!ArgFd(info, 0, "vcpuFd", &fd) || !ArgBytes(info, 1, "irqs", false, &in, &len)) return env.Undefined();
  if (len % sizeof(Irq) != 0 || len > (1u << 24)) {
    ThrowRangeError(env, "The \"irqs\" argument must hold a whole number of 72-byte records (at most 16 MiB)");
    return env.Undefined();
  }
  IrqState s{};
  s.buf = reinterpret_cast<uintptr_t>(in);
  s.len = static_cast<uint32_t>(len);
  return Result(env, IoctlPtr(fd, ioctl::S390_SET_IRQ_STATE, &s));
}

}  // namespace kvms390
