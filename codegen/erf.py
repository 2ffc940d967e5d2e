"""The generated module's own erf, for formulas that use it (NumPy has none).

Everything below the line :data:`codegen.verbatim.MARKER` is copied verbatim into a generated module whose expressions
contain erf (:func:`codegen.model.uses_erf`); here it is a real module, tested against
``math.erf`` (``tests/test_runtime.py``).
"""

from __future__ import annotations

import numpy as np

# ---- copied verbatim into generated modules from here on ----

# erf by W. J. Cody's rational Chebyshev approximations (Math. Comp. 23 (1969) 631-637; netlib
# specfun CALERF): P(t)/Q(t) for erf on |x| <= 0.46875 (t = x²), for erfc·e^(x²) on 0.46875 < |x| <= 4
# (t = |x|) and beyond (t = 1/x²). Coefficients from the highest power down.
_ERF_SMALL = ((1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
               3.77485237685302021e02, 3.20937758913846947e03),
              (1.0, 2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
               2.84423683343917062e03))
_ERFC_MIDDLE = ((2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
                 6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
                 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03),
                (1.0, 1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03))
_ERFC_LARGE = ((1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
                1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4),
               (1.0, 2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
                6.05183413124413191e-2, 2.33520497626869185e-3))
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1


def _ratio(t: np.ndarray, coefficients: tuple[tuple[float, ...], tuple[float, ...]]) -> np.ndarray:
    """P(t)/Q(t) by Horner's rule."""
    numerator, denominator = coefficients
    p, q = np.full_like(t, numerator[0]), np.full_like(t, denominator[0])
    for a, b in zip(numerator[1:], denominator[1:], strict=True):
        p *= t
        p += a
        q *= t
        q += b
    return p / q


def _erf(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """erf(x) element by element, in x's float dtype: relative error about 1e-16 in float64.

    |x| is capped at 6, where erf is ±1 to double precision, so no input overflows; NaN stays NaN.
    """
    x = np.asarray(x)
    y = np.minimum(np.abs(x), 6.0, out=np.empty(x.shape, np.result_type(x.dtype, np.float32)))
    small, large = y <= 0.46875, y > 4.0
    middle = ~(small | large | np.isnan(y))
    t = y[small]
    y[small] = t * _ratio(t * t, _ERF_SMALL)
    t = y[middle]
    y[middle] = 1.0 - np.exp(-t * t) * _ratio(t, _ERFC_MIDDLE)
    t = y[large]
    s = 1.0 / (t * t)
    y[large] = 1.0 - np.exp(-t * t) * (_ONE_OVER_SQRT_PI - s * _ratio(s, _ERFC_LARGE)) / t
    np.copysign(y, x, out=y)
    if out is None:
        return y
    out[...] = y
    return out
