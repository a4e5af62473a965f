#include <oneapi/dnnl/dnnl.h>

/* Debian builds oneDNN on GNU OpenMP: its primitives run as many threads as the calling
 * thread's OpenMP setting. omp.h is GCC's and not on Swift's clang include path, so the two
 * calls used are declared here (libgomp's C ABI). */
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
