{
  "variables": {
    "have_onednn": "<!(node -p \"process.env.PROMPTKD_ONEDNN === '0' ? 0 : Number(require('fs').existsSync('/usr/include/oneapi/dnnl/dnnl.hpp'))\")"
  },
  "targets": [
    {
      "target_name": "promptkd_native",
      "sources": ["kernels.c", "elementwise.c", "fused.c", "pooling.c", "batch_norm_train.c", "optimizers.c", "onednn_conv.cc", "onednn_matmul.cc"],
      "cflags": ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-lopenblas", "-fopenmp"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "conditions": [
        ["have_onednn==1", {"defines": ["PROMPTKD_HAVE_ONEDNN"], "libraries": ["-ldnnl"]}]
      ]
    }
  ]
}
