/* The plain C reference loops of the benchmarks (D = 3), one per kernel of benchmarks/table.py:

     gauss    out_i = sum_j exp(-|x_i - y_j|^2) b_j
     laplace  out_i = sum_j exp(-|x_i - y_j|) b_j
     matern   out_i = sum_j (1 + sqrt(3) r) exp(-sqrt(3) r) b_j,  r = |x_i - y_j|   (nu = 3/2)
     lse      out_i = log sum_j exp(-|x_i - y_j|^2)   (two passes: the max, then the sum)
     grad     out_i = sum_j -2 (x_i - y_j) exp(-|x_i - y_j|^2) b_j e_i   (3 outputs per row)

   Why this is a fair baseline: it is what a C programmer writes first and the compiler's best
   case for it. Compiled at bench time with cc -O3 -march=native -ffast-math -fopenmp: the rows
   go to OpenMP threads, the j loop is vectorised (y stored column-wise, `omp simd` reductions)
   and glibc's vector expf/exp (libmvec) computes the exp. -ffast-math lets the compiler
   reassociate and drop NaN/inf care, freedoms keir does not take.

   REAL is float or double (-DREAL=...). tests/test_benchmarks_c.py checks the assembly of both
   builds: the float loop stays in float (no vcvtps2pd) and calls libmvec's vector exp. */
#include <math.h>
#include <stdint.h>

#ifndef REAL
#define REAL float
#endif
/* The functions of REAL's own type (C11 _Generic). A ternary on sizeof(REAL) would not do: its
   type is the common type of expf and exp, double, so the float loop ran in double (vcvtps2pd in
   its assembly; issue 17). */
#define EXP(v) _Generic((v), float: expf, default: exp)(v)
#define SQRT(v) _Generic((v), float: sqrtf, default: sqrt)(v)
#define LOG(v) _Generic((v), float: logf, default: log)(v)

#define SQDIST(i, j)                                                                      \
    ((x[3 * (i)] - yt[j]) * (x[3 * (i)] - yt[j]) +                                        \
     (x[3 * (i) + 1] - yt[N + (j)]) * (x[3 * (i) + 1] - yt[N + (j)]) +                    \
     (x[3 * (i) + 2] - yt[2 * N + (j)]) * (x[3 * (i) + 2] - yt[2 * N + (j)]))

/* One weighted sum per row: out_i = sum_j KERNEL(d2) b_j. */
#define WEIGHTED_SUM(name, KERNEL)                                                        \
    void name(const REAL *x, const REAL *yt, const REAL *b, REAL *out, int64_t M,         \
              int64_t N) {                                                                \
        _Pragma("omp parallel for schedule(static)") for (int64_t i = 0; i < M; i++) {    \
            REAL acc = 0;                                                                 \
            _Pragma("omp simd reduction(+ : acc)") for (int64_t j = 0; j < N; j++) {      \
                REAL d2 = SQDIST(i, j);                                                   \
                acc += (KERNEL) * b[j];                                                   \
            }                                                                             \
            out[i] = acc;                                                                 \
        }                                                                                 \
    }

WEIGHTED_SUM(gauss, EXP(-d2))
WEIGHTED_SUM(laplace, EXP(-SQRT(d2)))
WEIGHTED_SUM(matern, (1 + SQRT(3 * d2)) * EXP(-SQRT(3 * d2)))

void lse(const REAL *x, const REAL *yt, REAL *out, int64_t M, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++) {
        REAL m = -INFINITY, s = 0;
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < N; j++) {
            REAL v = -SQDIST(i, j);
            m = v > m ? v : m;
        }
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < N; j++) s += EXP(-SQDIST(i, j) - m);
        out[i] = m + LOG(s);
    }
}

void grad(const REAL *x, const REAL *yt, const REAL *b, const REAL *e, REAL *out, int64_t M,
          int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++) {
        REAL x0 = x[3 * i], x1 = x[3 * i + 1], x2 = x[3 * i + 2], g0 = 0, g1 = 0, g2 = 0;
#pragma omp simd reduction(+ : g0, g1, g2)
        for (int64_t j = 0; j < N; j++) {
            REAL d0 = x0 - yt[j], d1 = x1 - yt[N + j], d2 = x2 - yt[2 * N + j];
            REAL w = EXP(-(d0 * d0 + d1 * d1 + d2 * d2)) * b[j];
            g0 += w * d0;
            g1 += w * d1;
            g2 += w * d2;
        }
        REAL scale = -2 * e[i];
        out[3 * i] = scale * g0, out[3 * i + 1] = scale * g1, out[3 * i + 2] = scale * g2;
    }
}
