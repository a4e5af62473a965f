#include "cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

shielddiff_cpu_features shielddiff_detect_cpu_features(void) {
    shielddiff_cpu_features f = {0, 0, 0, 0, 0, 0};
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx) return f;
    unsigned long long xcr0 = xgetbv0();
    int ymm = (xcr0 & 0x6) == 0x6;     // XMM and YMM state saved by the OS
    int zmm = (xcr0 & 0xe6) == 0xe6;   // and opmask, ZMM0-15 upper halves, ZMM16-31
    if (!ymm || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
    f.fma = fma;
    f.avx2 = (ebx >> 5) & 1;
    if (zmm) {
        f.avx512f = (ebx >> 16) & 1;
        f.avx512dq = (ebx >> 17) & 1;
        f.avx512bw = (ebx >> 30) & 1;
        f.avx512vl = (ebx >> 31) & 1;
    }
    return f;
}
#else
shielddiff_cpu_features shielddiff_detect_cpu_features(void) {
    shielddiff_cpu_features f = {0, 0, 0, 0, 0, 0};
    return f;
}
#endif
