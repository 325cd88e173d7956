/* The plain C reference loop for the Gaussian kernel sum out_i = sum_j exp(-|x_i - y_j|^2) b_j
   (D = 3): a fair hand-written baseline, compiled at bench time with
   cc -O3 -march=native -ffast-math -fopenmp. y is stored column-wise so the j loop vectorises. */
#include <math.h>
#include <stdint.h>

#ifndef REAL
#define REAL float
#endif
/* The exp of REAL's own type (C11 _Generic). A ternary on sizeof(REAL) would not do: its type
   is the common type of expf and exp, double, so the float loop ran in double (vcvtps2pd in its
   assembly; issue 17). tests/test_benchmarks_c.py checks the assembly of both builds. */
#define EXP(v) _Generic((v), float: expf, default: exp)(v)

void gauss(const REAL *x, const REAL *yt, const REAL *b, REAL *out, int64_t M, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++) {
        REAL x0 = x[3 * i], x1 = x[3 * i + 1], x2 = x[3 * i + 2], acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < N; j++) {
            REAL d0 = x0 - yt[j], d1 = x1 - yt[N + j], d2 = x2 - yt[2 * N + j];
            acc += EXP(-(d0 * d0 + d1 * d1 + d2 * d2)) * b[j];
        }
        out[i] = acc;
    }
}
