// The exports, one function per system call (declared here, registered in addon.cc).
#pragma once

#include <napi.h>

#include <cstdint>

#include "abi.h"

namespace kvms390 {

// kvm.cc: file descriptors, VMs, vcpus, memory, registers, interrupts.
Napi::Value OpenDevice(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);
Napi::Value GetApiVersion(const Napi::CallbackInfo& info);
Napi::Value CheckExtension(const Napi::CallbackInfo& info);
Napi::Value CreateVm(const Napi::CallbackInfo& info);
Napi::Value GetVcpuMmapSize(const Napi::CallbackInfo& info);
Napi::Value CreateVcpu(const Napi::CallbackInfo& info);
Napi::Value MmapGuest(const Napi::CallbackInfo& info);
Napi::Value MmapVcpu(const Napi::CallbackInfo& info);
Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info);
Napi::Value Run(const Napi::CallbackInfo& info);
Napi::Value Reset(const Napi::CallbackInfo& info);
Napi::Value GetSregs(const Napi::CallbackInfo& info);
Napi::Value GetCpuProcessor(const Napi::CallbackInfo& info);
Napi::Value SetSregs(const Napi::CallbackInfo& info);
Napi::Value GetIrqState(const Napi::CallbackInfo& info);
Napi::Value SetIrqState(const Napi::CallbackInfo& info);

// memop.cc: the hot path and the storage keys.
Napi::Value MemOpCall(const Napi::CallbackInfo& info);
Napi::Value MemOpLoopCall(const Napi::CallbackInfo& info);
Napi::Value MemOpStructForTest(const Napi::CallbackInfo& info);
void RegisterMemOpChannels(Napi::Env env, Napi::Object exports);

// A memop channel's memory as JS sees it: the descriptor it fills, then the result of the
// last channelMemop (returned through here: no JS number is created per call, ~6 ns).
struct ChannelShared {
  MemOp desc;
  int32_t result;
  int32_t reserved;
};
Napi::Value GetSkeys(const Napi::CallbackInfo& info);
Napi::Value SetSkeys(const Napi::CallbackInfo& info);
Napi::Value KeyopCall(const Napi::CallbackInfo& info);

// abi_export.cc: the addon's own view of the ABI.
Napi::Value Abi(const Napi::CallbackInfo& info);
Napi::Value EncodeMemOpForTest(const Napi::CallbackInfo& info);

}  // namespace kvms390
