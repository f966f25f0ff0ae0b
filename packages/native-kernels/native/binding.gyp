{
  "targets": [
    {
      "target_name": "promptkd_native",
      "sources": ["kernels.c", "elementwise.c"],
      "cflags": ["-O3", "-fopenmp", "-std=c11"],
      "libraries": ["-lopenblas", "-fopenmp"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"]
    }
  ]
}
