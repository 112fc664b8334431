{
  "targets": [
    {
      "target_name": "porthole_zero_copy",
      "sources": ["native/zero-copy.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
