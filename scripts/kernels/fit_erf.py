"""Fits the coefficients of `erf` in crates/model/src/kernels/math.rs (needs numpy).

|x| < 1:      erf(x) = x P(x^2),                     P of degree 6
1 <= |x| <= 4: erf(x) = 1 - exp(R(|x| - 2.5) - x^2),  R of degree 8
Least squares on Chebyshev nodes against the double-precision erf; prints the f32 coefficients
(highest degree first, as the Horner loops use them) and the worst error of the f32 evaluation.
"""
import math

import numpy as np


def fit(nodes, target, deg, shift=0.0):
    v = np.vander(nodes - shift, deg + 1, increasing=True)
    return np.linalg.lstsq(v, target, rcond=None)[0].astype(np.float32)


def horner(c, u):
    r = np.float32(c[-1])
    for cc in c[::-1][1:]:
        r = (r * u + cc).astype(np.float32)
    return r


cheb = lambda lo, hi, n: (np.cos(np.linspace(0, np.pi, n)) * 0.5 + 0.5) * (hi - lo) + lo
xs = cheb(1e-9, 1.0, 2000)
p = fit(xs**2, np.array([math.erf(x) / x for x in xs]), 6)
ts = cheb(1.0, 4.0, 4000)
r = fit(ts, np.array([math.log(math.erfc(t)) + t * t for t in ts]), 8, shift=2.5)

x = np.linspace(0, 4, 400001).astype(np.float32)
small = (horner(p, x * x) * x).astype(np.float32)
large = (1 - np.exp((horner(r, x - np.float32(2.5)) - x * x).astype(np.float32))).astype(np.float32)
ours = np.where(x < 1, small, large).astype(np.float64)
print("P:", [float(c) for c in p[::-1]])
print("R:", [float(c) for c in r[::-1]])
print("max |error|:", np.max(np.abs(ours - np.array([math.erf(float(v)) for v in x]))))
