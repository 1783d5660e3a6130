{
  "targets": [
    {
      "target_name": "kvm_s390",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/kvm.cc",
        "native/memop.cc",
        "native/mapping.cc",
        "native/abi_export.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"]
    }
  ]
}
