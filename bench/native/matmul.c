// Native reference for the PoUW kernel benchmark: a plain int8 x int8 -> int32 matrix multiply,
// the loop a C programmer would write (i-k-j order, so gcc -O3 -march=native vectorizes the j loop).
// Usage: matmul M N K REPEATS   prints "<MACs per second> <checksum>".
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void matmul(const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict c, int m, int n,
                   int k) {
  memset(c, 0, (size_t)m * n * sizeof(int32_t));
  for (int i = 0; i < m; i++) {
    int32_t *restrict ci = c + (size_t)i * n;
    for (int t = 0; t < k; t++) {
      const int32_t ait = a[(size_t)i * k + t];
      const int8_t *restrict bt = b + (size_t)t * n;
      for (int j = 0; j < n; j++) ci[j] += ait * bt[j];
    }
  }
}

// CPU time of this process, like the TypeScript side: other jobs on a shared machine do not count.
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s M N K REPEATS\n", argv[0]);
    return 2;
  }
  const int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]), repeats = atoi(argv[4]);
  int8_t *a = malloc((size_t)m * k), *b = malloc((size_t)k * n);
  int32_t *c = malloc((size_t)m * n * sizeof(int32_t));
  uint32_t x = 12345;  // deterministic int7 entries, like a PoUW job
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (int8_t)((x = x * 1664525u + 1013904223u) >> 25) - 64;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (int8_t)((x = x * 1664525u + 1013904223u) >> 25) - 64;
  matmul(a, b, c, m, n, k);  // warm-up
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    const double t0 = now();
    matmul(a, b, c, m, n, k);
    const double dt = now() - t0;
    if (dt < best) best = dt;
  }
  int64_t checksum = 0;
  for (size_t i = 0; i < (size_t)m * n; i++) checksum += c[i] * (int64_t)(i % 7 + 1);
  printf("%.0f %lld\n", (double)m * n * k / best, (long long)checksum);
  free(a);
  free(b);
  free(c);
  return 0;
}
