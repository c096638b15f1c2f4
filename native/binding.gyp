{
  # Built by native/build.js (package.json "install"), never by npm's implicit `node-gyp rebuild`.
  "targets": [
    {
      "target_name": "sextant_proc",
      "sources": ["sextant_proc.c", "sextant_host.c", "sextant_tcp.c", "sextant_sock.c", "sextant_gzip.c", "sextant_pin.c"],
      "conditions": [
        ["OS=='linux'", {
          "configurations": {
            "Release": {
              # -O2 instead of node's -O3: the hot loop is syscalls, not arithmetic.
              # -ffp-contract=off: no fused multiply-add in the digit loops, so numbers are the
              # same doubles the JavaScript fallback computes (see sextant_proc.c).
              "cflags!": ["-O3"],
              "cflags": ["-O2", "-Wall", "-Wextra", "-ffp-contract=off", "-std=gnu11"]
            },
            "Debug": {
              "cflags": ["-Wall", "-Wextra", "-ffp-contract=off", "-std=gnu11"]
            }
          }
        }]
      ]
    }
  ]
}
