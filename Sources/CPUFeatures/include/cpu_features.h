#ifndef SHIELDDIFF_CPU_FEATURES_H
#define SHIELDDIFF_CPU_FEATURES_H

// A shim because Swift cannot execute cpuid or xgetbv: the instruction sets this CPU and its
// operating system both enable (an OS that does not save the AVX-512 registers disables them).
typedef struct {
    int avx2;
    int fma;
    int avx512f;
    int avx512bw;
    int avx512dq;
    int avx512vl;
} shielddiff_cpu_features;

shielddiff_cpu_features shielddiff_detect_cpu_features(void);

#endif
