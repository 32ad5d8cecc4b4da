{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": [
        "src/accept.c",
        "src/addon.c",
        "src/addrwatch.c",
        "src/args.c",
        "src/bind.c",
        "src/connect.c",
        "src/datagram.c",
        "src/dirops.c",
        "src/dirpath.c",
        "src/errors.c",
        "src/fdutil.c",
        "src/fileinfo.c",
        "src/heap.c",
        "src/launchd.c",
        "src/limits.c",
        "src/openat.c",
        "src/peercred.c",
        "src/poll.c",
        "src/pump.c",
        "src/pump_connect.c",
        "src/pump_darwin.c",
        "src/pump_linux.c",
        "src/pump_napi.c",
        "src/recv.c",
        "src/sockname.c",
        "src/send.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpthread"],
      "cflags": [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Wshadow",
        "-Wformat=2",
        "-Wconversion",
        "-Wno-sign-conversion",
        "-Wstrict-prototypes",
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      "conditions": [
        ["OS=='linux'", {
          "defines": ["_GNU_SOURCE"],
          "cflags": ["-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_C_LANGUAGE_STANDARD": "c11",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "WARNING_CFLAGS": [
              "-Wall",
              "-Wextra",
              "-Wshadow",
              "-Wformat=2",
              "-Wconversion",
              "-Wno-sign-conversion",
              "-Wstrict-prototypes"
            ],
            "OTHER_CFLAGS": ["-fvisibility=hidden", "-fstack-protector-strong"]
          }
        }]
      ]
    }
  ]
}
