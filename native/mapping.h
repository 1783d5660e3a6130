// One ObjectWrap per OS mapping: guest memory (anonymous, 1 MiB aligned) and a vcpu's
// kvm_run page. JS never sees a raw pointer it could hand back: memory regions are passed to
// the kernel by Mapping object, and kvm_run is read and written through bounds-checked,
// aligned accessors. unmap() is idempotent; a mapping not unmapped explicitly is unmapped
// when the object is garbage-collected.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace kvms390 {

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value New(Napi::Env env, void* addr, size_t size);
  // The Mapping behind a JS value, or nullptr (nothing thrown) when it is not one.
  static Mapping* FromValue(Napi::Env env, Napi::Value v);

  explicit Mapping(const Napi::CallbackInfo& info);
  ~Mapping() override;

  void* addr() const { return addr_; }
  size_t size() const { return size_; }

 private:
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetMapped(const Napi::CallbackInfo& info);
  Napi::Value ReadU64(const Napi::CallbackInfo& info);
  Napi::Value WriteU64(const Napi::CallbackInfo& info);
  Napi::Value ReadU32(const Napi::CallbackInfo& info);
  Napi::Value WriteU32(const Napi::CallbackInfo& info);
  bool CheckAccess(const Napi::CallbackInfo& info, size_t width, size_t* offset);

  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kvms390
