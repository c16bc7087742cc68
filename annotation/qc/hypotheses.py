"""The two kinds of rater the calibrated method weighs, on Fisher's z scale (shared by the decision and
by the fit of the campaign's reference, so both speak of the same careless rater).

- genuine: true agreement drawn from the campaign's genuine raters, N(centre, spread^2);
- careless: true agreement at chance (0 +- CARELESS_SD_Z), or at half effort (HALF_EFFORT of the
  campaign's typical agreement, which is what rating at random half of the time gives), half and half.

An observed estimate with standard error `se` widens each by `se`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from .evidence import fisher_z

CARELESS_SD_Z = 0.1
HALF_EFFORT = 0.4


def genuine_logpdf(z, se, *, centre_z: float, spread_z: float):
    return norm.logpdf(z, loc=centre_z, scale=np.hypot(spread_z, se))


def careless_logpdf(z, se, *, centre_z: float):
    sd = np.hypot(CARELESS_SD_Z, se)
    half_z = fisher_z(HALF_EFFORT * math.tanh(centre_z))
    return np.logaddexp(norm.logpdf(z, loc=0.0, scale=sd), norm.logpdf(z, loc=half_z, scale=sd)) - math.log(2)
