// KVM_S390_MEM_OP and the storage-key ioctls. The memop path is the hot one: JS fills a
// 64-byte descriptor in place (struct kvm_s390_mem_op in host byte order; its buf and
// old_addr fields are ignored), native copies it into a stack struct, points buf/old_addr
// straight at the caller's Uint8Array memory (no copy of the data) and issues the ioctl.
// No allocation, no property lookups.
//
// The channel (createMemOpChannel, channelMemop) is the same call with less per-call work:
// the descriptor lives in native memory that JS sees as a Uint8Array, handed out once per
// handle with its fd, so a memop passes only (channel id, buf[, old]). It is written against the C
// API: one napi_get_cb_info, one napi_get_typedarray_info per buffer.
#include <sys/ioctl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "abi.h"
#include "args.h"
#include "kvm.h"

namespace kvms390 {

namespace {

// Points a copied descriptor at the caller's buffers. The kernel reads or writes at most
// `size` bytes at buf and at most min(size, 16) bytes at old_addr (cmpxchg only; every
// larger size is refused before old_addr is touched), so those are the bounds enforced.
// A given buffer must hold them: an empty, detached or shrunk view is refused here rather
// than passed on as a NULL pointer. Only null/undefined (not given) mean NULL.
bool PointMemOp(napi_env env, MemOp* m, uint8_t* buf, size_t buf_len, bool buf_given, uint8_t* old, size_t old_len,
                bool old_given) {
  if (buf_given && buf_len < m->size) {
    ThrowBufferOutOfBounds(env, "The \"buf\" argument holds fewer bytes than the descriptor's size (detached or shrunk?)");
    return false;
  }
  size_t old_need = m->size < memop::CMPXCHG_MAX_SIZE ? m->size : memop::CMPXCHG_MAX_SIZE;
  if (old_given && old_len < old_need) {
    ThrowBufferOutOfBounds(env, "The \"old\" argument holds fewer bytes than min(size, 16) (detached or shrunk?)");
    return false;
  }
  m->buf = reinterpret_cast<uintptr_t>(buf);
  m->u.s.old_addr = reinterpret_cast<uintptr_t>(old);
  return true;
}

// Arguments (fd, desc, buf, old) → the struct the ioctl gets.
bool BuildMemOp(const Napi::CallbackInfo& info, int* fd, MemOp* m) {
  uint8_t* desc;
  size_t desc_len;
  uint8_t* buf;
  size_t buf_len;
  uint8_t* old;
  size_t old_len;
  bool buf_given, old_given;
  if (!ArgFd(info, 0, "fd", fd) || !ArgBytes(info, 1, "desc", false, &desc, &desc_len) ||
      !ArgBytes(info, 2, "buf", true, &buf, &buf_len, &buf_given) ||
      !ArgBytes(info, 3, "old", true, &old, &old_len, &old_given))
    return false;
  if (desc_len != sizeof(MemOp)) {
    ThrowRangeError(info.Env(), "The \"desc\" argument must be 64 bytes long");
    return false;
  }
  std::memcpy(m, desc, sizeof *m);
  return PointMemOp(info.Env(), m, buf, buf_len, buf_given, old, old_len, old_given);
}

// The channels of one addon instance (one per Node environment). Slot i holds channel i
// until its descriptor's ArrayBuffer is collected; ids are never reused, so a stale id finds
// an empty slot, never another handle's descriptor. One function serves every channel: a JS
// call site that reaches several handles then still calls a single function, which V8 keeps
// on its fast API-call path (a function per channel made such a site polymorphic: +40 to
// +60 ns a call in bench/).
struct Channel;

struct ChannelTable {
  std::vector<Channel*> slots;
  int refs;  // the environment's, plus one per live channel
};

struct Channel {
  ChannelShared shared;
  int fd;  // the handle's, fixed for the channel's life
  ChannelTable* table;
  size_t id;
};

void ReleaseTable(ChannelTable* t) {
  if (--t->refs == 0) delete t;
}

void ReleaseTableAtExit(void* t) { ReleaseTable(static_cast<ChannelTable*>(t)); }

void FinalizeChannel(napi_env, void*, void* hint) {
  Channel* c = static_cast<Channel*>(hint);
  c->table->slots[c->id] = nullptr;
  ReleaseTable(c->table);
  delete c;
}

// The channel table behind createMemOpChannel and channelMemop, and their arguments.
ChannelTable* ChannelArgs(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  void* data = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, nullptr, &data) != napi_ok) return nullptr;
  return static_cast<ChannelTable*>(data);
}

// createMemOpChannel(fd): { id, shared: ArrayBuffer(72) } for memops on `fd`: bytes 0..63
// the descriptor (its buf and old_addr bytes are ignored, as in memop()), bytes 64..67 the
// result of the last channelMemop as a host-order int32.
napi_value CreateChannel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  ChannelTable* table = ChannelArgs(env, info, &argc, argv);
  int fd;
  // A missing argument reads as undefined, which ValueFd refuses.
  if (table == nullptr || !ValueFd(env, argv[0], "fd", &fd)) return nullptr;
  Channel* c = new Channel{};
  c->fd = fd;
  c->table = table;
  c->id = table->slots.size();
  napi_value ab, id, out;
  if (napi_create_external_arraybuffer(env, &c->shared, sizeof c->shared, FinalizeChannel, c, &ab) != napi_ok) {
    delete c;
    ThrowInvalidState(env, "external ArrayBuffers are not allowed in this runtime");
    return nullptr;
  }
  // From here the ArrayBuffer's finalizer frees the block and empties its slot.
  table->slots.push_back(c);
  table->refs++;
  if (napi_create_double(env, static_cast<double>(c->id), &id) != napi_ok || napi_create_object(env, &out) != napi_ok ||
      napi_set_named_property(env, out, "id", id) != napi_ok || napi_set_named_property(env, out, "shared", ab) != napi_ok)
    return nullptr;
  return out;
}

// channelMemop(id, buf, old?): the ioctl on channel `id`'s fd with its descriptor. The
// result (0, a positive program-interruption code, or -errno) goes to the shared block;
// the call itself returns undefined.
napi_value ChannelMemOp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  ChannelTable* table = ChannelArgs(env, info, &argc, argv);
  if (table == nullptr) return nullptr;
  double id;
  if (napi_get_value_double(env, argv[0], &id) != napi_ok) {
    ThrowTypeError(env, "The \"id\" argument must be of type number");
    return nullptr;
  }
  // A channel whose descriptor was collected, or an id never handed out, has no block.
  size_t slot = id >= 0 && id < static_cast<double>(table->slots.size()) ? static_cast<size_t>(id) : table->slots.size();
  if (slot == table->slots.size() || static_cast<double>(slot) != id || table->slots[slot] == nullptr) {
    ThrowRangeError(env, "The \"id\" argument is not a live memop channel");
    return nullptr;
  }
  Channel* c = table->slots[slot];
  MemOp m;
  std::memcpy(&m, &c->shared.desc, sizeof m);
  uint8_t* buf;
  size_t buf_len;
  uint8_t* old = nullptr;
  size_t old_len = 0;
  bool buf_given, old_given = false;
  // Missing arguments read as undefined: buf is then refused, old is NULL.
  if (!ValueBytes(env, argv[1], "buf", true, &buf, &buf_len, &buf_given) ||
      (argc >= 3 && !ValueBytes(env, argv[2], "old", true, &old, &old_len, &old_given)) ||
      !PointMemOp(env, &m, buf, buf_len, buf_given, old, old_len, old_given))
    return nullptr;
  int r = ::ioctl(c->fd, ioctl::S390_MEM_OP, &m);
  c->shared.result = r < 0 ? -errno : r;
  return nullptr;
}

}  // namespace

// createMemOpChannel and channelMemop, sharing this environment's channel table.
void RegisterMemOpChannels(Napi::Env env, Napi::Object exports) {
  ChannelTable* table = new ChannelTable{{}, 1};
  napi_add_env_cleanup_hook(env, ReleaseTableAtExit, table);
  napi_value create, call;
  if (napi_create_function(env, "createMemOpChannel", NAPI_AUTO_LENGTH, CreateChannel, table, &create) != napi_ok ||
      napi_create_function(env, "channelMemop", NAPI_AUTO_LENGTH, ChannelMemOp, table, &call) != napi_ok)
    return;
  exports.Set("createMemOpChannel", Napi::Value(env, create));
  exports.Set("channelMemop", Napi::Value(env, call));
}

// memop(fd, desc, buf, old): 0, a positive program-interruption code, or -errno.
Napi::Value MemOpCall(const Napi::CallbackInfo& info) {
  int fd;
  MemOp m;
  if (!BuildMemOp(info, &fd, &m)) return info.Env().Undefined();
  int r = ::ioctl(fd, ioctl::S390_MEM_OP, &m);
  return Result(info.Env(), r < 0 ? -errno : r);
}

// memopLoop(fd, desc, buf, old, iterations): the same ioctl `iterations` times in C, for the
// benchmark's baseline. Returns [elapsed ns (bigint), last result].
Napi::Value MemOpLoopCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  MemOp m;
  uint32_t iterations;
  if (!BuildMemOp(info, &fd, &m) || !ArgU32(info, 4, "iterations", &iterations)) return env.Undefined();
  int last = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < iterations; i++) {
    MemOp copy = m;  // the kernel does not write the struct, but each call gets a fresh one like the JS path
    int r = ::ioctl(fd, ioctl::S390_MEM_OP, &copy);
    last = r < 0 ? -errno : r;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::BigInt::New(env, static_cast<int64_t>(ns)));
  out.Set(1u, Napi::Number::New(env, last));
  return out;
}

// The exact 64 bytes memop() would hand to the kernel for these arguments.
Napi::Value MemOpStructForTest(const Napi::CallbackInfo& info) {
  int fd;
  MemOp m;
  if (!BuildMemOp(info, &fd, &m)) return info.Env().Undefined();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), sizeof m);
  std::memcpy(out.Data(), &m, sizeof m);
  return out;
}

// getSkeys(vmFd, startGfn, count, out, flags): 0, GET_SKEYS_NONE (1) or -errno. The kernel
// writes `count` bytes only when 1 <= count <= SKEYS_MAX; then `out` must hold them.
Napi::Value GetSkeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint64_t gfn, count;
  uint8_t* out;
  size_t len;
  uint32_t flags;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgU64(info, 1, "startGfn", &gfn) || !ArgU64(info, 2, "count", &count) ||
      !ArgBytes(info, 3, "out", false, &out, &len) || !ArgU32(info, 4, "flags", &flags))
    return env.Undefined();
  if (count >= 1 && count <= kSkeysMax && len < count) {
    ThrowRangeError(env, "The \"out\" argument is shorter than count");
    return env.Undefined();
  }
  Skeys s{};
  s.start_gfn = gfn;
  s.count = count;
  s.skeydata_addr = reinterpret_cast<uintptr_t>(out);
  s.flags = flags;
  int r = ::ioctl(fd, ioctl::S390_GET_SKEYS, &s);
  return Result(env, r < 0 ? -errno : r);
}

// setSkeys(vmFd, startGfn, keys, flags): count = keys.length. 0 or -errno.
Napi::Value SetSkeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint64_t gfn;
  uint8_t* keys;
  size_t len;
  uint32_t flags;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgU64(info, 1, "startGfn", &gfn) || !ArgBytes(info, 2, "keys", false, &keys, &len) ||
      !ArgU32(info, 3, "flags", &flags))
    return env.Undefined();
  Skeys s{};
  s.start_gfn = gfn;
  s.count = len;
  s.skeydata_addr = reinterpret_cast<uintptr_t>(keys);
  s.flags = flags;
  int r = ::ioctl(fd, ioctl::S390_SET_SKEYS, &s);
  return Result(env, r < 0 ? -errno : r);
}

// keyop(vmFd, guestAddr, operation, key): KVM_S390_KEYOP on one guest absolute address. The
// key byte the kernel writes back (0..255), or -errno. `operation` and `key` are the struct's
// u8 fields; the kernel judges the operation.
Napi::Value KeyopCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint64_t addr;
  uint32_t operation, key;
  if (!ArgFd(info, 0, "vmFd", &fd) || !ArgU64(info, 1, "guestAddr", &addr) || !ArgU32(info, 2, "operation", &operation) ||
      !ArgU32(info, 3, "key", &key))
    return env.Undefined();
  if (operation > 0xff || key > 0xff) {
    ThrowRangeError(env, "The \"operation\" and \"key\" arguments are single bytes (0..255)");
    return env.Undefined();
  }
  Keyop k{};
  k.guest_addr = addr;
  k.key = static_cast<uint8_t>(key);
  k.operation = static_cast<uint8_t>(operation);
  int r = ::ioctl(fd, ioctl::S390_KEYOP, &k);
  return Result(env, r < 0 ? -errno : k.key);
}

}  // namespace kvms390
