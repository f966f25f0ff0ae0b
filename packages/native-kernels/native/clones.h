/* CLONES: compile a loop for AVX-512, AVX2 and baseline x86-64; the loader picks the best the CPU has. */
#ifndef PROMPTKD_CLONES_H
#define PROMPTKD_CLONES_H
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif
#endif
