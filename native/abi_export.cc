// abi(): the addon's own view of every number, size and offset it compiles with, so a test
// can compare it with src/abi/constants.ts on every architecture the addon runs on.
#include <cstddef>
#include <cstring>

#include "abi.h"
#include "args.h"
#include "kvm.h"

namespace kvms390 {

namespace {

const char* Arch() {
#if defined(__s390x__)
  return "s390x";
#elif defined(__x86_64__)
  return "x64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "unknown";
#endif
}

const char* ByteOrder() {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return "big";
#else
  return "little";
#endif
}

void Put(Napi::Object o, const char* name, double v) { o.Set(name, Napi::Number::New(o.Env(), v)); }

}  // namespace

Napi::Value Abi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", Napi::String::New(env, Arch()));
  o.Set("byteOrder", Napi::String::New(env, ByteOrder()));
#ifdef KVMS390_HAVE_HEADER
  o.Set("checkedAgainstHeader", Napi::Boolean::New(env, true));
#else
  o.Set("checkedAgainstHeader", Napi::Boolean::New(env, false));
#endif
#ifdef KVMS390_HAVE_S390_RUN
  o.Set("checkedAgainstS390Header", Napi::Boolean::New(env, true));
#else
  o.Set("checkedAgainstS390Header", Napi::Boolean::New(env, false));
#endif

  Napi::Object io = Napi::Object::New(env);
  Put(io, "GET_API_VERSION", ioctl::GET_API_VERSION);
  Put(io, "CREATE_VM", ioctl::CREATE_VM);
  Put(io, "CHECK_EXTENSION", ioctl::CHECK_EXTENSION);
  Put(io, "GET_VCPU_MMAP_SIZE", ioctl::GET_VCPU_MMAP_SIZE);
  Put(io, "CREATE_VCPU", ioctl::CREATE_VCPU);
  Put(io, "SET_USER_MEMORY_REGION", ioctl::SET_USER_MEMORY_REGION);
  Put(io, "RUN", ioctl::RUN);
  Put(io, "GET_SREGS", ioctl::GET_SREGS);
  Put(io, "SET_SREGS", ioctl::SET_SREGS);
  Put(io, "S390_INITIAL_RESET", ioctl::S390_INITIAL_RESET);
  Put(io, "S390_MEM_OP", ioctl::S390_MEM_OP);
  Put(io, "S390_GET_SKEYS", ioctl::S390_GET_SKEYS);
  Put(io, "S390_SET_SKEYS", ioctl::S390_SET_SKEYS);
  Put(io, "S390_SET_IRQ_STATE", ioctl::S390_SET_IRQ_STATE);
  Put(io, "S390_GET_IRQ_STATE", ioctl::S390_GET_IRQ_STATE);
  Put(io, "S390_KEYOP", ioctl::S390_KEYOP);
  Put(io, "S390_NORMAL_RESET", ioctl::S390_NORMAL_RESET);
  Put(io, "S390_CLEAR_RESET", ioctl::S390_CLEAR_RESET);
  Put(io, "GET_DEVICE_ATTR", ioctl::GET_DEVICE_ATTR);
  o.Set("ioctl", io);

  Napi::Object c = Napi::Object::New(env);
  Put(c, "S390_PSW", cap::S390_PSW);
  Put(c, "SYNC_REGS", cap::SYNC_REGS);
  Put(c, "S390_MEM_OP", cap::S390_MEM_OP);
  Put(c, "S390_SKEYS", cap::S390_SKEYS);
  Put(c, "S390_INJECT_IRQ", cap::S390_INJECT_IRQ);
  Put(c, "S390_IRQ_STATE", cap::S390_IRQ_STATE);
  Put(c, "S390_VCPU_RESETS", cap::S390_VCPU_RESETS);
  Put(c, "S390_PROTECTED", cap::S390_PROTECTED);
  Put(c, "S390_MEM_OP_EXTENSION", cap::S390_MEM_OP_EXTENSION);
  Put(c, "S390_KEYOP", cap::S390_KEYOP);
  o.Set("cap", c);

  Napi::Object op = Napi::Object::New(env);
  Put(op, "LOGICAL_READ", memop::LOGICAL_READ);
  Put(op, "LOGICAL_WRITE", memop::LOGICAL_WRITE);
  Put(op, "SIDA_READ", memop::SIDA_READ);
  Put(op, "SIDA_WRITE", memop::SIDA_WRITE);
  Put(op, "ABSOLUTE_READ", memop::ABSOLUTE_READ);
  Put(op, "ABSOLUTE_WRITE", memop::ABSOLUTE_WRITE);
  Put(op, "ABSOLUTE_CMPXCHG", memop::ABSOLUTE_CMPXCHG);
  o.Set("memop", op);

  Napi::Object f = Napi::Object::New(env);
  Put(f, "CHECK_ONLY", static_cast<double>(memop::F_CHECK_ONLY));
  Put(f, "INJECT_EXCEPTION", static_cast<double>(memop::F_INJECT_EXCEPTION));
  Put(f, "SKEY_PROTECTION", static_cast<double>(memop::F_SKEY_PROTECTION));
  o.Set("memopFlags", f);

  Napi::Object ext = Napi::Object::New(env);
  Put(ext, "CAP_BASE", memop::EXT_CAP_BASE);
  Put(ext, "CAP_CMPXCHG", memop::EXT_CAP_CMPXCHG);
  o.Set("memopExtension", ext);

  Napi::Object ko = Napi::Object::New(env);
  Put(ko, "ISKE", keyop::ISKE);
  Put(ko, "RRBE", keyop::RRBE);
  Put(ko, "SSKE", keyop::SSKE);
  o.Set("keyop", ko);

  Napi::Object s = Napi::Object::New(env);
  Put(s, "PREFIX", static_cast<double>(sync::PREFIX));
  Put(s, "GPRS", static_cast<double>(sync::GPRS));
  Put(s, "ACRS", static_cast<double>(sync::ACRS));
  Put(s, "CRS", static_cast<double>(sync::CRS));
  Put(s, "ARCH0", static_cast<double>(sync::ARCH0));
  Put(s, "PFAULT", static_cast<double>(sync::PFAULT));
  Put(s, "VRS", static_cast<double>(sync::VRS));
  Put(s, "RICCB", static_cast<double>(sync::RICCB));
  Put(s, "FPRS", static_cast<double>(sync::FPRS));
  Put(s, "GSCB", static_cast<double>(sync::GSCB));
  Put(s, "BPBC", static_cast<double>(sync::BPBC));
  Put(s, "ETOKEN", static_cast<double>(sync::ETOKEN));
  Put(s, "DIAG318", static_cast<double>(sync::DIAG318));
  o.Set("sync", s);

  Napi::Object lim = Napi::Object::New(env);
  Put(lim, "MEM_OP_MAX_SIZE", memop::MAX_SIZE);
  Put(lim, "CMPXCHG_MAX_SIZE", memop::CMPXCHG_MAX_SIZE);
  Put(lim, "SKEYS_MAX", static_cast<double>(kSkeysMax));
  Put(lim, "GET_SKEYS_NONE", kGetSkeysNone);
  Put(lim, "MEMSLOT_ALIGNMENT", static_cast<double>(kMemslotAlignment));
  Put(lim, "PROGRAM_INT", static_cast<double>(kProgramIntType));
  Put(lim, "EXIT_S390_SIEIC", kExitS390Sieic);
  o.Set("limits", lim);

  Napi::Object ch = Napi::Object::New(env);
  Put(ch, "size", sizeof(ChannelShared));
  Put(ch, "resultOffset", offsetof(ChannelShared, result));
  o.Set("channel", ch);

  Napi::Object sz = Napi::Object::New(env);
  Put(sz, "kvm_s390_mem_op", sizeof(MemOp));
  Put(sz, "kvm_s390_skeys", sizeof(Skeys));
  Put(sz, "kvm_s390_keyop", sizeof(Keyop));
  Put(sz, "kvm_device_attr", sizeof(DeviceAttr));
  Put(sz, "kvm_s390_vm_cpu_processor", sizeof(CpuProcessor));
  Put(sz, "kvm_userspace_memory_region", sizeof(UserMemoryRegion));
  Put(sz, "kvm_sregs", sizeof(Sregs));
  Put(sz, "kvm_s390_irq", sizeof(Irq));
  Put(sz, "kvm_s390_irq_state", sizeof(IrqState));
  Put(sz, "kvm_s390_pgm_info", sizeof(PgmInfo));
  o.Set("sizes", sz);

  Napi::Object off = Napi::Object::New(env);
  Napi::Object mo = Napi::Object::New(env);
  Put(mo, "gaddr", offsetof(MemOp, gaddr));
  Put(mo, "flags", offsetof(MemOp, flags));
  Put(mo, "size", offsetof(MemOp, size));
  Put(mo, "op", offsetof(MemOp, op));
  Put(mo, "buf", offsetof(MemOp, buf));
  Put(mo, "ar", offsetof(MemOp, u.s.ar));
  Put(mo, "key", offsetof(MemOp, u.s.key));
  Put(mo, "sida_offset", offsetof(MemOp, u.sida_offset));
  Put(mo, "old_addr", offsetof(MemOp, u.s.old_addr));
  off.Set("kvm_s390_mem_op", mo);
  Napi::Object sk = Napi::Object::New(env);
  Put(sk, "start_gfn", offsetof(Skeys, start_gfn));
  Put(sk, "count", offsetof(Skeys, count));
  Put(sk, "skeydata_addr", offsetof(Skeys, skeydata_addr));
  Put(sk, "flags", offsetof(Skeys, flags));
  off.Set("kvm_s390_skeys", sk);
  Napi::Object kop = Napi::Object::New(env);
  Put(kop, "guest_addr", offsetof(Keyop, guest_addr));
  Put(kop, "key", offsetof(Keyop, key));
  Put(kop, "operation", offsetof(Keyop, operation));
  off.Set("kvm_s390_keyop", kop);
  Napi::Object sr = Napi::Object::New(env);
  Put(sr, "acrs", offsetof(Sregs, acrs));
  Put(sr, "crs", offsetof(Sregs, crs));
  off.Set("kvm_sregs", sr);
  Napi::Object run = Napi::Object::New(env);
  Put(run, "exit_reason", offsetof(RunHead, exit_reason));
  Put(run, "psw_mask", offsetof(RunHead, psw_mask));
  Put(run, "psw_addr", offsetof(RunHead, psw_addr));
  Put(run, "s390_sieic", offsetof(RunHead, exit_union));
  Put(run, "kvm_valid_regs", offsetof(RunHead, kvm_valid_regs));
  Put(run, "kvm_dirty_regs", offsetof(RunHead, kvm_dirty_regs));
  Put(run, "prefix", offsetof(RunHead, prefix));
  Put(run, "gprs", offsetof(RunHead, gprs));
  Put(run, "acrs", offsetof(RunHead, acrs));
  Put(run, "crs", offsetof(RunHead, crs));
  off.Set("kvm_run", run);
  Napi::Object pgm = Napi::Object::New(env);
  Put(pgm, "trans_exc_code", offsetof(PgmInfo, trans_exc_code));
  Put(pgm, "code", offsetof(PgmInfo, code));
  Put(pgm, "exc_access_id", offsetof(PgmInfo, exc_access_id));
  off.Set("kvm_s390_pgm_info", pgm);
  Napi::Object irq = Napi::Object::New(env);
  Put(irq, "type", offsetof(Irq, type));
  Put(irq, "u", offsetof(Irq, u));
  off.Set("kvm_s390_irq", irq);
  o.Set("offsets", off);
  return o;
}

// encodeMemOpForTest(gaddr, flags, size, op, buf, ar, key, oldAddr[, sidaOffset]): the struct
// filled field by field, as the C compiler lays it out. Pointers are plain numbers here and
// are never dereferenced.
Napi::Value EncodeMemOpForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t gaddr, flags, buf, old_addr;
  uint32_t size, op, ar, key, sida = 0;
  if (!ArgU64(info, 0, "gaddr", &gaddr) || !ArgU64(info, 1, "flags", &flags) || !ArgU32(info, 2, "size", &size) ||
      !ArgU32(info, 3, "op", &op) || !ArgU64(info, 4, "buf", &buf) || !ArgU32(info, 5, "ar", &ar) ||
      !ArgU32(info, 6, "key", &key) || !ArgU64(info, 7, "oldAddr", &old_addr))
    return env.Undefined();
  bool has_sida = !info[8].IsUndefined();
  if (has_sida && !ArgU32(info, 8, "sidaOffset", &sida)) return env.Undefined();
  if (ar > 255 || key > 255) {
    ThrowRangeError(env, "ar and key are single bytes");
    return env.Undefined();
  }
  MemOp m;
  std::memset(&m, 0, sizeof m);
  m.gaddr = gaddr;
  m.flags = flags;
  m.size = size;
  m.op = op;
  m.buf = buf;
  m.u.s.ar = static_cast<uint8_t>(ar);
  m.u.s.key = static_cast<uint8_t>(key);
  m.u.s.old_addr = old_addr;
  if (has_sida) m.u.sida_offset = sida;
  Napi::Uint8Array out = Napi::Uint8Array::New(env, sizeof m);
  std::memcpy(out.Data(), &m, sizeof m);
  return out;
}

}  // namespace kvms390
