// Our own definition of every number and struct of the s390 KVM interface the addon uses
// (spec §1). It mirrors src/abi/constants.ts; test/abi-agreement.test.ts compares the two
// through abi(). Definitions are ours, so the addon builds with any (or no) kernel headers,
// including headers older than the cmpxchg and KEYOP additions. Where <linux/kvm.h> is
// present, the static_asserts at the bottom prove our numbers equal the header's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvms390 {

// ---- ioctl encoding (generic Linux: dir<<30 | size<<16 | type<<8 | nr; s390 and x86 agree) ----
constexpr uint32_t kIocNone = 0, kIocWrite = 1, kIocRead = 2;
constexpr uint32_t kKvmIo = 0xAE;
constexpr uint32_t Ioc(uint32_t dir, uint32_t nr, uint32_t size) {
  return (dir << 30) | (size << 16) | (kKvmIo << 8) | nr;
}

// ---- structs (every field fixed-width; the kernel stores them in host byte order) ----
struct MemOp {                // struct kvm_s390_mem_op
  uint64_t gaddr;             // 0
  uint64_t flags;             // 8
  uint32_t size;              // 16
  uint32_t op;                // 20
  uint64_t buf;               // 24
  union {                     // 32: ar/key, or sida_offset, or 32 reserved bytes
    struct {
      uint8_t ar;             // 32
      uint8_t key;            // 33
      uint8_t pad1[6];        // 34
      uint64_t old_addr;      // 40
    } s;
    uint32_t sida_offset;     // 32
    uint8_t reserved[32];
  } u;
};

struct Skeys {                // struct kvm_s390_skeys
  uint64_t start_gfn;
  uint64_t count;
  uint64_t skeydata_addr;
  uint32_t flags;
  uint32_t reserved[9];
};

struct DeviceAttr {           // struct kvm_device_attr
  uint32_t flags;
  uint32_t group;
  uint64_t attr;
  uint64_t addr;
};

// struct kvm_s390_vm_cpu_processor: the guest CPU model of a VM (group KVM_S390_VM_CPU_MODEL,
// attribute KVM_S390_VM_CPU_PROCESSOR). fac_list is the STFLE facility bit string.
struct CpuProcessor {
  uint64_t cpuid;
  uint16_t ibc;
  uint8_t pad[6];
  uint64_t fac_list[256];     // 16
};

struct Keyop {                // struct kvm_s390_keyop (newest kernels)
  uint64_t guest_addr;        // 0
  uint8_t key;                // 8: in for SSKE, out: the previous key (RRBE: its R and C bits)
  uint8_t operation;          // 9
  uint8_t pad[6];             // 10
};

struct UserMemoryRegion {     // struct kvm_userspace_memory_region
  uint32_t slot;
  uint32_t flags;
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
};

struct Sregs {                // struct kvm_sregs (s390)
  uint32_t acrs[16];
  uint64_t crs[16];
};

struct PgmInfo {              // struct kvm_s390_pgm_info
  uint64_t trans_exc_code;
  uint64_t mon_code;
  uint64_t per_address;
  uint32_t data_exc_code;
  uint16_t code;
  uint16_t mon_class_nr;
  uint8_t per_code;
  uint8_t per_atmid;
  uint8_t exc_access_id;
  uint8_t per_access_id;
  uint8_t op_access_id;
  uint8_t flags;
  uint8_t pad[2];
};

struct Irq {                  // struct kvm_s390_irq: a type and a 64-byte payload union
  uint64_t type;
  union {
    PgmInfo pgm;
    uint8_t reserved[64];
  } u;
};

struct IrqState {             // struct kvm_s390_irq_state
  uint64_t buf;
  uint32_t flags;
  uint32_t len;
  uint32_t reserved[4];
};

// The leading part of the s390 `struct kvm_run` that we touch. The exit union is 256 bytes;
// the sync registers follow the two u64 valid/dirty words.
struct RunHead {
  uint8_t request_interrupt_window;   // 0x00
  uint8_t immediate_exit;             // 0x01
  uint8_t padding1[6];
  uint32_t exit_reason;               // 0x08
  uint8_t ready_for_interrupt_injection;
  uint8_t if_flag;
  uint16_t flags;
  uint64_t cr8;                       // 0x10
  uint64_t apic_base;                 // 0x18
  uint64_t psw_mask;                  // 0x20 (s390: struct kvm_run's psw_mask)
  uint64_t psw_addr;                  // 0x28
  uint8_t exit_union[256];            // 0x30 s390_sieic.icptcode first
  uint64_t kvm_valid_regs;            // 0x130
  uint64_t kvm_dirty_regs;            // 0x138
  uint64_t prefix;                    // 0x140 s.regs.prefix
  uint64_t gprs[16];                  // 0x148
  uint32_t acrs[16];                  // 0x1c8
  uint64_t crs[16];                   // 0x208
};

// ---- numbers ----
namespace ioctl {
constexpr uint32_t GET_API_VERSION = Ioc(kIocNone, 0x00, 0);
constexpr uint32_t CREATE_VM = Ioc(kIocNone, 0x01, 0);
constexpr uint32_t CHECK_EXTENSION = Ioc(kIocNone, 0x03, 0);
constexpr uint32_t GET_VCPU_MMAP_SIZE = Ioc(kIocNone, 0x04, 0);
constexpr uint32_t CREATE_VCPU = Ioc(kIocNone, 0x41, 0);
constexpr uint32_t SET_USER_MEMORY_REGION = Ioc(kIocWrite, 0x46, sizeof(UserMemoryRegion));
constexpr uint32_t RUN = Ioc(kIocNone, 0x80, 0);
constexpr uint32_t GET_SREGS = Ioc(kIocRead, 0x83, sizeof(Sregs));
constexpr uint32_t SET_SREGS = Ioc(kIocWrite, 0x84, sizeof(Sregs));
constexpr uint32_t S390_INITIAL_RESET = Ioc(kIocNone, 0x97, 0);
constexpr uint32_t S390_MEM_OP = Ioc(kIocWrite, 0xb1, sizeof(MemOp));
constexpr uint32_t S390_GET_SKEYS = Ioc(kIocWrite, 0xb2, sizeof(Skeys));
constexpr uint32_t S390_SET_SKEYS = Ioc(kIocWrite, 0xb3, sizeof(Skeys));
constexpr uint32_t S390_SET_IRQ_STATE = Ioc(kIocWrite, 0xb5, sizeof(IrqState));
constexpr uint32_t S390_GET_IRQ_STATE = Ioc(kIocWrite, 0xb6, sizeof(IrqState));
constexpr uint32_t S390_KEYOP = Ioc(kIocRead | kIocWrite, 0x53, sizeof(Keyop));
constexpr uint32_t S390_NORMAL_RESET = Ioc(kIocNone, 0xc3, 0);
constexpr uint32_t GET_DEVICE_ATTR = Ioc(kIocWrite, 0xe2, sizeof(DeviceAttr));
constexpr uint32_t S390_CLEAR_RESET = Ioc(kIocNone, 0xc4, 0);
}  // namespace ioctl

namespace cpu_model {
constexpr uint32_t GROUP = 3;      // KVM_S390_VM_CPU_MODEL
constexpr uint64_t PROCESSOR = 0;  // KVM_S390_VM_CPU_PROCESSOR
}  // namespace cpu_model

namespace cap {
constexpr uint32_t S390_PSW = 42, SYNC_REGS = 74, S390_MEM_OP = 108, S390_SKEYS = 110,
                   S390_INJECT_IRQ = 113, S390_IRQ_STATE = 114, S390_VCPU_RESETS = 179,
                   S390_PROTECTED = 180, S390_MEM_OP_EXTENSION = 211, S390_KEYOP = 247;
}

namespace memop {
constexpr uint32_t LOGICAL_READ = 0, LOGICAL_WRITE = 1, SIDA_READ = 2, SIDA_WRITE = 3,
                   ABSOLUTE_READ = 4, ABSOLUTE_WRITE = 5, ABSOLUTE_CMPXCHG = 6;
constexpr uint64_t F_CHECK_ONLY = 1, F_INJECT_EXCEPTION = 2, F_SKEY_PROTECTION = 4;
constexpr uint32_t EXT_CAP_BASE = 1, EXT_CAP_CMPXCHG = 2;
constexpr uint32_t MAX_SIZE = 65536;
constexpr uint32_t CMPXCHG_MAX_SIZE = 16;
}  // namespace memop

namespace keyop {
constexpr uint32_t ISKE = 1, RRBE = 2, SSKE = 3;
}

namespace sync {
constexpr uint64_t PREFIX = 0x1, GPRS = 0x2, ACRS = 0x4, CRS = 0x8, ARCH0 = 0x10,
                   PFAULT = 0x20, VRS = 0x40, RICCB = 0x80, FPRS = 0x100, GSCB = 0x200,
                   BPBC = 0x400, ETOKEN = 0x800, DIAG318 = 0x1000;
}

constexpr uint64_t kSkeysMax = 1048576;
constexpr uint32_t kGetSkeysNone = 1;
constexpr uint64_t kProgramIntType = 0xfffe0001u;  // KVM_S390_PROGRAM_INT
constexpr uint32_t kExitS390Sieic = 13;            // KVM_EXIT_S390_SIEIC
constexpr uint64_t kMemslotAlignment = 1u << 20;

// ---- our layout, proven ----
static_assert(sizeof(MemOp) == 64, "kvm_s390_mem_op is 64 bytes");
static_assert(offsetof(MemOp, gaddr) == 0 && offsetof(MemOp, flags) == 8 && offsetof(MemOp, size) == 16 &&
                  offsetof(MemOp, op) == 20 && offsetof(MemOp, buf) == 24 && offsetof(MemOp, u) == 32,
              "kvm_s390_mem_op head");
static_assert(offsetof(MemOp, u.s.ar) == 32 && offsetof(MemOp, u.s.key) == 33 &&
                  offsetof(MemOp, u.s.old_addr) == 40 && offsetof(MemOp, u.sida_offset) == 32,
              "kvm_s390_mem_op union");
static_assert(sizeof(Skeys) == 64 && offsetof(Skeys, count) == 8 && offsetof(Skeys, skeydata_addr) == 16 &&
                  offsetof(Skeys, flags) == 24,
              "kvm_s390_skeys");
static_assert(sizeof(Keyop) == 16 && offsetof(Keyop, key) == 8 && offsetof(Keyop, operation) == 9, "kvm_s390_keyop");
static_assert(sizeof(UserMemoryRegion) == 32, "kvm_userspace_memory_region");
static_assert(sizeof(Sregs) == 192 && offsetof(Sregs, crs) == 64, "kvm_sregs (s390)");
static_assert(sizeof(PgmInfo) == 40 && offsetof(PgmInfo, code) == 28 && offsetof(PgmInfo, exc_access_id) == 34,
              "kvm_s390_pgm_info");
static_assert(sizeof(DeviceAttr) == 24 && sizeof(CpuProcessor) == 2064 && offsetof(CpuProcessor, fac_list) == 16,
              "kvm_device_attr, kvm_s390_vm_cpu_processor");
static_assert(sizeof(Irq) == 72 && offsetof(Irq, u) == 8, "kvm_s390_irq");
static_assert(sizeof(IrqState) == 32 && offsetof(IrqState, len) == 12, "kvm_s390_irq_state");
static_assert(offsetof(RunHead, exit_reason) == 0x08 && offsetof(RunHead, psw_mask) == 0x20 &&
                  offsetof(RunHead, psw_addr) == 0x28 && offsetof(RunHead, kvm_valid_regs) == 0x130 &&
                  offsetof(RunHead, kvm_dirty_regs) == 0x138 && offsetof(RunHead, prefix) == 0x140 &&
                  offsetof(RunHead, gprs) == 0x148 && offsetof(RunHead, acrs) == 0x1c8 &&
                  offsetof(RunHead, crs) == 0x208,
              "kvm_run (s390) head");
static_assert(ioctl::S390_MEM_OP == 0x4040AEB1u && ioctl::S390_GET_SKEYS == 0x4040AEB2u &&
                  ioctl::SET_SREGS == 0x40C0AE84u && ioctl::GET_SREGS == 0x80C0AE83u &&
                  ioctl::SET_USER_MEMORY_REGION == 0x4020AE46u && ioctl::S390_KEYOP == 0xC010AE53u,
              "spec §1.1 values");

}  // namespace kvms390

// ---- agreement with the kernel's header, where it has the definition ----
#if __has_include(<linux/kvm.h>)
#include <linux/kvm.h>
#define KVMS390_HAVE_HEADER 1
namespace kvms390 {
static_assert(KVM_GET_API_VERSION == ioctl::GET_API_VERSION, "KVM_GET_API_VERSION");
static_assert(KVM_CREATE_VM == ioctl::CREATE_VM, "KVM_CREATE_VM");
static_assert(KVM_CHECK_EXTENSION == ioctl::CHECK_EXTENSION, "KVM_CHECK_EXTENSION");
static_assert(KVM_GET_VCPU_MMAP_SIZE == ioctl::GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
static_assert(KVM_CREATE_VCPU == ioctl::CREATE_VCPU, "KVM_CREATE_VCPU");
static_assert(KVM_SET_USER_MEMORY_REGION == ioctl::SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION");
static_assert(sizeof(struct kvm_userspace_memory_region) == sizeof(UserMemoryRegion), "memory region size");
static_assert(KVM_RUN == ioctl::RUN, "KVM_RUN");
static_assert(KVM_S390_INITIAL_RESET == ioctl::S390_INITIAL_RESET, "KVM_S390_INITIAL_RESET");
#ifdef KVM_S390_NORMAL_RESET
static_assert(KVM_S390_NORMAL_RESET == ioctl::S390_NORMAL_RESET, "KVM_S390_NORMAL_RESET");
static_assert(KVM_S390_CLEAR_RESET == ioctl::S390_CLEAR_RESET, "KVM_S390_CLEAR_RESET");
#endif
static_assert(KVM_CAP_S390_PSW == cap::S390_PSW && KVM_CAP_SYNC_REGS == cap::SYNC_REGS, "caps");
static_assert(KVM_CAP_S390_MEM_OP == cap::S390_MEM_OP && KVM_CAP_S390_SKEYS == cap::S390_SKEYS, "caps");
static_assert(KVM_CAP_S390_INJECT_IRQ == cap::S390_INJECT_IRQ && KVM_CAP_S390_IRQ_STATE == cap::S390_IRQ_STATE, "caps");
#ifdef KVM_CAP_S390_VCPU_RESETS
static_assert(KVM_CAP_S390_VCPU_RESETS == cap::S390_VCPU_RESETS && KVM_CAP_S390_PROTECTED == cap::S390_PROTECTED, "caps");
#endif
#ifdef KVM_CAP_S390_MEM_OP_EXTENSION
static_assert(KVM_CAP_S390_MEM_OP_EXTENSION == cap::S390_MEM_OP_EXTENSION, "caps");
#endif
#ifdef KVM_CAP_S390_KEYOP
static_assert(KVM_CAP_S390_KEYOP == cap::S390_KEYOP, "caps");
#endif
#ifdef KVM_S390_KEYOP
static_assert(KVM_S390_KEYOP == ioctl::S390_KEYOP, "KVM_S390_KEYOP");
static_assert(KVM_S390_KEYOP_ISKE == keyop::ISKE && KVM_S390_KEYOP_RRBE == keyop::RRBE && KVM_S390_KEYOP_SSKE == keyop::SSKE,
              "keyop operations");
static_assert(sizeof(struct kvm_s390_keyop) == sizeof(Keyop) &&
                  offsetof(struct kvm_s390_keyop, guest_addr) == offsetof(Keyop, guest_addr) &&
                  offsetof(struct kvm_s390_keyop, key) == offsetof(Keyop, key) &&
                  offsetof(struct kvm_s390_keyop, operation) == offsetof(Keyop, operation),
              "kvm_s390_keyop");
#endif
#ifdef KVM_S390_GET_SKEYS_NONE
static_assert(KVM_S390_GET_SKEYS_NONE == kGetSkeysNone && KVM_S390_SKEYS_MAX == kSkeysMax, "skeys limits");
#endif
#ifdef KVM_S390_PROGRAM_INT
static_assert(KVM_S390_PROGRAM_INT == kProgramIntType, "KVM_S390_PROGRAM_INT");
#endif
#ifdef KVM_EXIT_S390_SIEIC
static_assert(KVM_EXIT_S390_SIEIC == kExitS390Sieic, "KVM_EXIT_S390_SIEIC");
#endif
// The s390 structs live in <linux/kvm.h> (before 6.9, every architecture) or in the s390
// <asm/kvm.h> (6.9+, s390 only). KVM_S390_MEMOP_LOGICAL_READ is defined next to the struct.
#ifdef KVM_S390_MEMOP_LOGICAL_READ
#define KVMS390_HAVE_S390_STRUCTS 1
static_assert(KVM_S390_MEM_OP == ioctl::S390_MEM_OP, "KVM_S390_MEM_OP");
static_assert(KVM_S390_GET_SKEYS == ioctl::S390_GET_SKEYS && KVM_S390_SET_SKEYS == ioctl::S390_SET_SKEYS, "skeys ioctls");
static_assert(KVM_S390_GET_IRQ_STATE == ioctl::S390_GET_IRQ_STATE && KVM_S390_SET_IRQ_STATE == ioctl::S390_SET_IRQ_STATE, "irq state ioctls");
static_assert(sizeof(struct kvm_s390_mem_op) == sizeof(MemOp), "kvm_s390_mem_op size");
static_assert(offsetof(struct kvm_s390_mem_op, gaddr) == offsetof(MemOp, gaddr) &&
                  offsetof(struct kvm_s390_mem_op, flags) == offsetof(MemOp, flags) &&
                  offsetof(struct kvm_s390_mem_op, size) == offsetof(MemOp, size) &&
                  offsetof(struct kvm_s390_mem_op, op) == offsetof(MemOp, op) &&
                  offsetof(struct kvm_s390_mem_op, buf) == offsetof(MemOp, buf) &&
                  offsetof(struct kvm_s390_mem_op, ar) == offsetof(MemOp, u.s.ar) &&
                  offsetof(struct kvm_s390_mem_op, key) == offsetof(MemOp, u.s.key) &&
                  offsetof(struct kvm_s390_mem_op, sida_offset) == offsetof(MemOp, u.sida_offset),
              "kvm_s390_mem_op offsets");
#ifdef KVM_S390_MEMOP_ABSOLUTE_CMPXCHG
static_assert(offsetof(struct kvm_s390_mem_op, old_addr) == offsetof(MemOp, u.s.old_addr), "old_addr");
static_assert(KVM_S390_MEMOP_ABSOLUTE_CMPXCHG == memop::ABSOLUTE_CMPXCHG, "cmpxchg op");
static_assert(KVM_S390_MEMOP_EXTENSION_CAP_BASE == memop::EXT_CAP_BASE &&
                  KVM_S390_MEMOP_EXTENSION_CAP_CMPXCHG == memop::EXT_CAP_CMPXCHG, "extension bits");
#endif
static_assert(KVM_S390_MEMOP_LOGICAL_READ == memop::LOGICAL_READ && KVM_S390_MEMOP_LOGICAL_WRITE == memop::LOGICAL_WRITE &&
                  KVM_S390_MEMOP_SIDA_READ == memop::SIDA_READ && KVM_S390_MEMOP_SIDA_WRITE == memop::SIDA_WRITE &&
                  KVM_S390_MEMOP_ABSOLUTE_READ == memop::ABSOLUTE_READ && KVM_S390_MEMOP_ABSOLUTE_WRITE == memop::ABSOLUTE_WRITE,
              "memop ops");
static_assert(KVM_S390_MEMOP_F_CHECK_ONLY == memop::F_CHECK_ONLY && KVM_S390_MEMOP_F_INJECT_EXCEPTION == memop::F_INJECT_EXCEPTION &&
                  KVM_S390_MEMOP_F_SKEY_PROTECTION == memop::F_SKEY_PROTECTION,
              "memop flags");
static_assert(sizeof(struct kvm_s390_skeys) == sizeof(Skeys) &&
                  offsetof(struct kvm_s390_skeys, skeydata_addr) == offsetof(Skeys, skeydata_addr) &&
                  offsetof(struct kvm_s390_skeys, flags) == offsetof(Skeys, flags),
              "kvm_s390_skeys");
static_assert(sizeof(struct kvm_s390_pgm_info) == sizeof(PgmInfo) &&
                  offsetof(struct kvm_s390_pgm_info, code) == offsetof(PgmInfo, code) &&
                  offsetof(struct kvm_s390_pgm_info, exc_access_id) == offsetof(PgmInfo, exc_access_id),
              "kvm_s390_pgm_info");
static_assert(sizeof(struct kvm_s390_irq) == sizeof(Irq) && offsetof(struct kvm_s390_irq, u) == offsetof(Irq, u), "kvm_s390_irq");
static_assert(sizeof(struct kvm_s390_irq_state) == sizeof(IrqState), "kvm_s390_irq_state");
#endif  // KVM_S390_MEMOP_LOGICAL_READ
#if defined(__s390x__)
// Only the s390 header describes the s390 kvm_run, sregs and sync registers.
#define KVMS390_HAVE_S390_RUN 1
static_assert(KVM_GET_SREGS == ioctl::GET_SREGS && KVM_SET_SREGS == ioctl::SET_SREGS, "sregs ioctls");
static_assert(KVM_GET_DEVICE_ATTR == ioctl::GET_DEVICE_ATTR && KVM_S390_VM_CPU_MODEL == cpu_model::GROUP &&
                  KVM_S390_VM_CPU_PROCESSOR == cpu_model::PROCESSOR,
              "cpu model attribute");
static_assert(sizeof(struct kvm_s390_vm_cpu_processor) == sizeof(CpuProcessor) &&
                  offsetof(struct kvm_s390_vm_cpu_processor, fac_list) == offsetof(CpuProcessor, fac_list),
              "kvm_s390_vm_cpu_processor");
static_assert(sizeof(struct kvm_sregs) == sizeof(Sregs) && offsetof(struct kvm_sregs, crs) == offsetof(Sregs, crs), "kvm_sregs");
static_assert(offsetof(struct kvm_run, exit_reason) == offsetof(RunHead, exit_reason) &&
                  offsetof(struct kvm_run, psw_mask) == offsetof(RunHead, psw_mask) &&
                  offsetof(struct kvm_run, psw_addr) == offsetof(RunHead, psw_addr) &&
                  offsetof(struct kvm_run, s390_sieic.icptcode) == offsetof(RunHead, exit_union) &&
                  offsetof(struct kvm_run, kvm_valid_regs) == offsetof(RunHead, kvm_valid_regs) &&
                  offsetof(struct kvm_run, kvm_dirty_regs) == offsetof(RunHead, kvm_dirty_regs) &&
                  offsetof(struct kvm_run, s.regs.prefix) == offsetof(RunHead, prefix) &&
                  offsetof(struct kvm_run, s.regs.gprs) == offsetof(RunHead, gprs) &&
                  offsetof(struct kvm_run, s.regs.acrs) == offsetof(RunHead, acrs) &&
                  offsetof(struct kvm_run, s.regs.crs) == offsetof(RunHead, crs),
              "kvm_run (s390)");
static_assert(KVM_SYNC_PREFIX == sync::PREFIX && KVM_SYNC_GPRS == sync::GPRS && KVM_SYNC_ACRS == sync::ACRS &&
                  KVM_SYNC_CRS == sync::CRS && KVM_SYNC_ARCH0 == sync::ARCH0 && KVM_SYNC_PFAULT == sync::PFAULT &&
                  KVM_SYNC_VRS == sync::VRS && KVM_SYNC_RICCB == sync::RICCB && KVM_SYNC_FPRS == sync::FPRS &&
                  KVM_SYNC_GSCB == sync::GSCB && KVM_SYNC_BPBC == sync::BPBC && KVM_SYNC_ETOKEN == sync::ETOKEN,
              "KVM_SYNC_* bits");
#ifdef KVM_SYNC_DIAG318
static_assert(KVM_SYNC_DIAG318 == sync::DIAG318, "KVM_SYNC_DIAG318");
#endif
#endif  // __s390x__
}  // namespace kvms390
#endif  // __has_include(<linux/kvm.h>)
