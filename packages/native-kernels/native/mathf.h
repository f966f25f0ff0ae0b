/* Branch-free float math shared by elementwise.c and fused.c; compiled into vector code by the callers' loops. */
#ifndef PROMPTKD_MATHF_H
#define PROMPTKD_MATHF_H
#include <stdint.h>
#include <string.h>

static inline float bits_to_f(int32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline int32_t f_to_bits(float f) {
  int32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* e^x: Cephes expf reduction and polynomial (≤ 2 ulp), 2^n applied in two halves so denormal results and
 * overflow to +inf come out right. NaN stays NaN. */
static inline float exp_f(float x) {
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 89.0f ? 89.0f : xc;
  const float t = xc * 1.44269504088896341f + 12582912.0f; /* round(x·log2 e) in the low mantissa bits */
  const float n = t - 12582912.0f;
  const int32_t ni = f_to_bits(t) - 0x4B400000;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float v = y * bits_to_f((n1 + 127) << 23) * bits_to_f((n2 + 127) << 23);
  return x != x ? x : v;
}

/* erf(x): odd/even rational approximation on [-4, 4] (the coefficients of Eigen's and XLA's float erf), ±1 beyond.
 * Evaluated in double: in float the rounding of the two polynomials adds ~4e-7; in double |error| ≤ 1e-7. */
static inline float erf_f(float x) {
  double c = x < -4.0f ? -4.0 : (double)x;
  c = c > 4.0 ? 4.0 : c;
  const double x2 = c * c;
  double p = -2.72614225801306e-10;
  p = p * x2 + 2.77068142495902e-08;
  p = p * x2 + -2.10102402082508e-06;
  p = p * x2 + -5.69250639462346e-05;
  p = p * x2 + -7.34990630326855e-04;
  p = p * x2 + -2.95459980854025e-03;
  p = p * x2 + -1.60960333262415e-02;
  double q = -1.45660718464996e-05;
  q = q * x2 + -2.13374055278905e-04;
  q = q * x2 + -1.68282697438203e-03;
  q = q * x2 + -7.37332916720468e-03;
  q = q * x2 + -1.42647390514189e-02;
  const float v = (float)(c * p / q);
  return x != x ? x : v;
}

#endif
