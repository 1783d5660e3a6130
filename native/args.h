// Argument checks shared by every export. Each export must survive any JS value: a wrong type
// throws TypeError (code ERR_INVALID_ARG_TYPE), a value outside its field throws RangeError
// (code ERR_OUT_OF_RANGE); nothing here calls back into JavaScript (no getters, no coercion).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace kvms390 {

void ThrowTypeError(Napi::Env env, const std::string& message);
void ThrowRangeError(Napi::Env env, const std::string& message);
// RangeError code ERR_BUFFER_OUT_OF_BOUNDS: a buffer holds fewer bytes than the call needs (the
// emulated backend throws the same for a buffer detached or shrunk after the argument check).
void ThrowBufferOutOfBounds(Napi::Env env, const std::string& message);
// Error code ERR_INVALID_STATE: the object cannot do this any more (an unmapped mapping) or
// the runtime refuses what the call needs.
void ThrowInvalidState(Napi::Env env, const std::string& message);

// Each getter returns false after throwing; the caller then returns env.Undefined().
bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out);
bool ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out);
// A non-negative safe-integer number or a bigint below 2^64.
bool ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out);
// A Uint8Array (Buffer included). With allow_null, null/undefined yields data == nullptr,
// len == 0. A detached (or shrunk out-of-bounds) buffer yields data == nullptr, len == 0: the
// caller refuses it when it needs bytes. `given` (when not null) tells a view, even an empty
// one, from null/undefined, for callers that must not pass an empty view on as NULL.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, bool allow_null, uint8_t** data, size_t* len,
              bool* given = nullptr);

// The same checks on a raw napi_value, for exports written against the C API (the memop
// channel): `name` names the argument in the error.
bool ValueFd(napi_env env, napi_value v, const char* name, int* out);
bool ValueBytes(napi_env env, napi_value v, const char* name, bool allow_null, uint8_t** data, size_t* len,
                bool* given = nullptr);

// A system-call result as a JS number: the value itself, or -errno.
inline Napi::Value Result(Napi::Env env, long r) { return Napi::Number::New(env, static_cast<double>(r)); }

}  // namespace kvms390
