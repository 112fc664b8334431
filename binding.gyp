{
  "targets": [
    {
      "target_name": "porthole_kernel_io",
      "sources": ["native/kernel-io.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
