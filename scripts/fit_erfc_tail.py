#!/usr/bin/python3
"""Fits the polynomial P(t) behind exact GELU's float path (ops/activation.cpp):

    erfc(z) = t * P(t) * exp(-z^2),   t = 1 / (1 + z/2),   z >= 0,

least squares in relative error on t in [t(z_max), 1], z_max = 20/sqrt(2)
(|x| is capped at 20, where Phi is 0 or 1 in float). Prints the coefficients,
highest power first, and the fit's maximal relative error in double and when
evaluated by Horner in float32. Needs numpy.

    scripts/fit_erfc_tail.py [degree]      (default 10)
"""
import math
import sys

import numpy as np

degree = int(sys.argv[1]) if len(sys.argv) > 1 else 10
t_min = 1 / (1 + 20 / (2 * math.sqrt(2)))
t = np.linspace(t_min, 1.0, 40001)
z = 2 * (1 / t - 1)
target = np.array([math.erfc(v) * math.exp(v * v) for v in z]) / t

basis = np.vander(t, degree + 1, increasing=True) / target[:, None]
coef, *_ = np.linalg.lstsq(basis, np.ones_like(t), rcond=None)

fit = np.polynomial.polynomial.polyval(t, coef)
c32, t32 = coef.astype(np.float32), t.astype(np.float32)
horner = np.full_like(t32, c32[-1])
for c in c32[-2::-1]:
    horner = (horner * t32 + c).astype(np.float32)
print("coefficients, highest power first:")
print(", ".join(f"{c:.12g}" for c in coef[::-1]))
print(f"max relative error: fit {np.max(np.abs(fit / target - 1)):.2e}, "
      f"float32 Horner {np.max(np.abs(horner / target - 1)):.2e}")
