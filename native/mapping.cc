#include "mapping.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "args.h"

namespace kvms390 {

namespace {
// The constructor is reachable from JS only through the exported factory functions; this
// token marks a construction that came from New().
struct Pending {
  void* addr = nullptr;
  size_t size = 0;
  bool set = false;
};
thread_local Pending pending;

struct InstanceData {
  Napi::FunctionReference ctor;
};
}  // namespace

Napi::Function Mapping::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "Mapping",
                                 {
                                     InstanceMethod<&Mapping::Unmap>("unmap"),
                                     InstanceAccessor<&Mapping::GetSize>("size"),
                                     InstanceAccessor<&Mapping::GetMapped>("mapped"),
                                     InstanceMethod<&Mapping::ReadU64>("readU64"),
                                     InstanceMethod<&Mapping::WriteU64>("writeU64"),
                                     InstanceMethod<&Mapping::ReadU32>("readU32"),
                                     InstanceMethod<&Mapping::WriteU32>("writeU32"),
                                 });
  auto* data = new InstanceData();
  data->ctor = Napi::Persistent(f);
  env.SetInstanceData<InstanceData>(data);
  return f;
}

Napi::Value Mapping::New(Napi::Env env, void* addr, size_t size) {
  auto* data = env.GetInstanceData<InstanceData>();
  pending = {addr, size, true};
  Napi::Object obj = data->ctor.New({});
  pending = {};
  if (env.IsExceptionPending()) {
    munmap(addr, size);
    return env.Undefined();
  }
  return obj;
}

Mapping* Mapping::FromValue(Napi::Env env, Napi::Value v) {
  auto* data = env.GetInstanceData<InstanceData>();
  if (!v.IsObject()) return nullptr;
  bool is = false;
  if (napi_instanceof(env, v, data->ctor.Value(), &is) != napi_ok || !is) {
    // instanceof may have thrown for exotic objects; we report "not a Mapping" instead.
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return nullptr;
  }
  Napi::ObjectWrap<Mapping>* w = nullptr;
  // An object that merely inherits from Mapping.prototype is not wrapped: napi_unwrap fails.
  if (napi_unwrap(env, v, reinterpret_cast<void**>(&w)) != napi_ok || w == nullptr) return nullptr;
  return static_cast<Mapping*>(w);
}

Mapping::Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
  if (!pending.set) {
    ThrowTypeError(info.Env(), "Mapping objects are created by mmapGuest() and mmapVcpu() only");
    return;
  }
  addr_ = pending.addr;
  size_ = pending.size;
  pending.set = false;
}

Mapping::~Mapping() {
  if (addr_ != nullptr) munmap(addr_, size_);
}

Napi::Value Mapping::Unmap(const Napi::CallbackInfo& info) {
  int r = 0;
  if (addr_ != nullptr) {
    r = munmap(addr_, size_) == 0 ? 0 : -errno;
    addr_ = nullptr;
  }
  return Result(info.Env(), r);
}

Napi::Value Mapping::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value Mapping::GetMapped(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), addr_ != nullptr);
}

bool Mapping::CheckAccess(const Napi::CallbackInfo& info, size_t width, size_t* offset) {
  uint32_t off;
  if (!ArgU32(info, 0, "offset", &off)) return false;
  if (addr_ == nullptr) {
    ThrowInvalidState(info.Env(), "the mapping was unmapped");
    return false;
  }
  if (off % width != 0 || static_cast<size_t>(off) + width > size_) {
    ThrowRangeError(info.Env(), "The \"offset\" argument is outside the mapping or misaligned");
    return false;
  }
  *offset = off;
  return true;
}

// kvm_run is shared with the kernel; volatile keeps each access a single load or store.
Napi::Value Mapping::ReadU64(const Napi::CallbackInfo& info) {
  size_t off;
  if (!CheckAccess(info, 8, &off)) return info.Env().Undefined();
  uint64_t v = *reinterpret_cast<volatile uint64_t*>(static_cast<uint8_t*>(addr_) + off);
  return Napi::BigInt::New(info.Env(), v);
}

Napi::Value Mapping::WriteU64(const Napi::CallbackInfo& info) {
  size_t off;
  uint64_t v;
  if (!ArgU64(info, 1, "value", &v) || !CheckAccess(info, 8, &off)) return info.Env().Undefined();
  *reinterpret_cast<volatile uint64_t*>(static_cast<uint8_t*>(addr_) + off) = v;
  return info.Env().Undefined();
}

Napi::Value Mapping::ReadU32(const Napi::CallbackInfo& info) {
  size_t off;
  if (!CheckAccess(info, 4, &off)) return info.Env().Undefined();
  uint32_t v = *reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(addr_) + off);
  return Napi::Number::New(info.Env(), v);
}

Napi::Value Mapping::WriteU32(const Napi::CallbackInfo& info) {
  size_t off;
  uint32_t v;
  if (!ArgU32(info, 1, "value", &v) || !CheckAccess(info, 4, &off)) return info.Env().Undefined();
  *reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(addr_) + off) = v;
  return info.Env().Undefined();
}

}  // namespace kvms390
