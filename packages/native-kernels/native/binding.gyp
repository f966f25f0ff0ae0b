{
  "targets": [
    {
      "target_name": "promptkd_native",
      "sources": ["kernels.c", "elementwise.c", "fused.c", "pooling.c", "batch_norm_train.c"],
      "cflags": ["-O3", "-fopenmp", "-std=c11", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast"],
      "libraries": ["-lopenblas", "-fopenmp"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"]
    }
  ]
}
