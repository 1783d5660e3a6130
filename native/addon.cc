// Registers the exports. Everything is a plain function over file descriptors, plus the
// Mapping class for memory mappings; no state lives here.
#include <napi.h>

#include "abi.h"
#include "kvm.h"
#include "mapping.h"

namespace kvms390 {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry entries[] = {
      {"openDevice", OpenDevice},
      {"close", Close},
      {"getApiVersion", GetApiVersion},
      {"checkExtension", CheckExtension},
      {"createVm", CreateVm},
      {"getVcpuMmapSize", GetVcpuMmapSize},
      {"createVcpu", CreateVcpu},
      {"mmapGuest", MmapGuest},
      {"mmapVcpu", MmapVcpu},
      {"setUserMemoryRegion", SetUserMemoryRegion},
      {"run", Run},
      {"reset", Reset},
      {"getSregs", GetSregs},
      {"getCpuProcessor", GetCpuProcessor},
      {"setSregs", SetSregs},
      {"getIrqState", GetIrqState},
      {"setIrqState", SetIrqState},
      {"memop", MemOpCall},
      {"memopLoop", MemOpLoopCall},
      {"memopStructForTest", MemOpStructForTest},
      {"getSkeys", GetSkeys},
      {"setSkeys", SetSkeys},
      {"keyop", KeyopCall},
      {"abi", Abi},
      {"encodeMemOpForTest", EncodeMemOpForTest},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  RegisterMemOpChannels(env, exports);
  Mapping::Init(env);  // constructor kept in instance data; not exported
  return exports;
}

}  // namespace kvms390

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return kvms390::Init(env, exports); }

NODE_API_MODULE(kvm_s390, InitModule)
