#include "args.h"

#include <cmath>

namespace kvms390 {

static void ThrowWithCode(Napi::Error err, const char* code) {
  err.Set("code", Napi::String::New(err.Env(), code));
  err.ThrowAsJavaScriptException();
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::TypeError::New(env, message), "ERR_INVALID_ARG_TYPE");
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::RangeError::New(env, message), "ERR_OUT_OF_RANGE");
}

void ThrowBufferOutOfBounds(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::RangeError::New(env, message), "ERR_BUFFER_OUT_OF_BOUNDS");
}

void ThrowInvalidState(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::Error::New(env, message), "ERR_INVALID_STATE");
}

static bool IntegerValue(napi_env env, napi_value v, const char* name, double max, double* out) {
  double d;
  // napi_get_value_double refuses anything but a number (no coercion, no JS call).
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    ThrowTypeError(env, std::string("The \"") + name + "\" argument must be of type number");
    return false;
  }
  if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > max) {
    ThrowRangeError(env, std::string("The \"") + name + "\" argument is out of range");
    return false;
  }
  *out = d;
  return true;
}

static bool IntegerNumber(const Napi::CallbackInfo& info, size_t i, const char* name, double max, double* out) {
  return IntegerValue(info.Env(), info[i], name, max, out);
}

bool ValueFd(napi_env env, napi_value v, const char* name, int* out) {
  double d;
  if (!IntegerValue(env, v, name, 2147483647.0, &d)) return false;
  *out = static_cast<int>(d);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  return ValueFd(info.Env(), info[i], name, out);
}

bool ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out) {
  double d;
  if (!IntegerNumber(info, i, name, 4294967295.0, &d)) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      ThrowRangeError(env, std::string("The \"") + name + "\" argument must fit in 64 unsigned bits");
      return false;
    }
    *out = u;
    return true;
  }
  double d;
  if (!IntegerNumber(info, i, name, 9007199254740991.0, &d)) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

bool ValueBytes(napi_env env, napi_value v, const char* name, bool allow_null, uint8_t** data, size_t* len, bool* given) {
  // Hot path (every memop): one napi_get_typedarray_info, which answers napi_invalid_arg
  // for anything that is not a typed array.
  napi_typedarray_type type;
  size_t length = 0;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, nullptr, nullptr) == napi_ok) {
    if (type == napi_uint8_array) {
      // A detached buffer, or a resizable one shrunk below the view, reports length 0: it
      // holds no bytes, exactly as the JS side sees it (callers compare with what they need).
      *data = length == 0 ? nullptr : static_cast<uint8_t*>(p);
      *len = *data == nullptr ? 0 : length;
      if (given != nullptr) *given = true;
      return true;
    }
  } else if (allow_null) {
    napi_valuetype t;
    if (napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined)) {
      *data = nullptr;
      *len = 0;
      if (given != nullptr) *given = false;
      return true;
    }
  }
  ThrowTypeError(env, std::string("The \"") + name + "\" argument must be a Uint8Array" + (allow_null ? " or null" : ""));
  return false;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, bool allow_null, uint8_t** data, size_t* len, bool* given) {
  return ValueBytes(info.Env(), info[i], name, allow_null, data, len, given);
}

}  // namespace kvms390
