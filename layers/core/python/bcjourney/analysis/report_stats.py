"""Small, dependency-light statistics for the EDA report (numpy + scipy.stats).

Every function takes counts or arrays and returns plain floats, so the report and its tests can check
them against an independent computation. Random resampling always goes through a Generator the caller
seeds, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ALPHA = 0.05
MIN_EXPECTED = 5  # below this expected cell count the chi-square / z approximations are not trusted


def _norm_sf(z: float) -> float:
    """Upper tail of the standard normal (no scipy needed)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n; (nan, nan) when n is 0."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact arithmetic puts p inside; keep it there when rounding does not (k = 0 or k = n)
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def diff_ci(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 - p2, built from the two Wilson intervals."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, lower), min(1.0, upper))


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[str, float]:
    """Two-sided test of p1 = p2: the pooled two-proportion z-test, or Fisher's exact test when an
    expected cell count is below MIN_EXPECTED. Returns (test name, p-value)."""
    if n1 <= 0 or n2 <= 0:
        return ("none (empty group)", 1.0)
    pooled = (k1 + k2) / (n1 + n2)
    expected = min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if expected < MIN_EXPECTED:
        from scipy.stats import fisher_exact

        _, p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
        return ("Fisher exact", float(min(1.0, p)))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return ("two-proportion z", 1.0)
    z = (k1 / n1 - k2 / n2) / se
    return ("two-proportion z", float(min(1.0, 2 * _norm_sf(abs(z)))))


def chi2_homogeneity(
    k: Sequence[int], n: Sequence[int], rng: np.random.Generator, simulations: int = 4000
) -> tuple[str, float, float]:
    """Chi-square test that every group has the same rate (k successes of n per group).

    Uses the asymptotic chi-square distribution when every expected cell count is at least
    MIN_EXPECTED, otherwise a Monte Carlo p-value (groups redrawn as binomials at the pooled rate).
    Returns (test name, statistic, p-value); p = 1 when there is nothing to compare.
    """
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    keep = n_arr > 0
    k_arr, n_arr = k_arr[keep], n_arr[keep]
    if len(n_arr) < 2:
        return ("chi-square", 0.0, 1.0)
    pooled = k_arr.sum() / n_arr.sum()
    if pooled in (0.0, 1.0):
        return ("chi-square", 0.0, 1.0)

    def statistic(successes: np.ndarray) -> np.ndarray:
        e1 = n_arr * pooled
        e0 = n_arr * (1 - pooled)
        return (((successes - e1) ** 2) / e1 + (((n_arr - successes) - e0) ** 2) / e0).sum(axis=-1)

    observed = float(statistic(k_arr))
    dof = len(n_arr) - 1
    if min((n_arr * pooled).min(), (n_arr * (1 - pooled)).min()) >= MIN_EXPECTED:
        from scipy.stats import chi2

        return (f"chi-square ({dof} df)", observed, float(chi2.sf(observed, dof)))
    draws = rng.binomial(n_arr.astype(np.int64), pooled, size=(simulations, len(n_arr))).astype(float)
    # The pooled rate of every simulated table differs slightly from the observed; the statistic is
    # computed with the observed pooled rate, a standard conditional-on-margins approximation.
    exceed = int((statistic(draws) >= observed - 1e-9).sum())
    return (f"chi-square, Monte Carlo ({simulations} draws, {dof} df)", observed, (exceed + 1) / (simulations + 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given), each capped at 1."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, (m - rank) * p[idx])
        adjusted[idx] = min(1.0, running)
    return adjusted.tolist()


# --------------------------------------------------------------------------------------------------
# Bootstrap on value counts: integer scores and whole-second delays take few distinct values, so a
# resample is a multinomial draw over the distinct values: fast and exact for the percentile bootstrap.


def _value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return vals, counts


def bootstrap_means(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """`resamples` bootstrap replicates of the mean of values (empty array when values is empty)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.array([])
    vals, counts = _value_counts(values)
    draws = rng.multinomial(len(values), counts / counts.sum(), size=resamples)
    return draws @ vals / len(values)


def bootstrap_mean_ci(values: np.ndarray, rng: np.random.Generator, resamples: int = 4000) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean."""
    reps = bootstrap_means(values, rng, resamples)
    if len(reps) == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return (float(lo), float(hi))


def bootstrap_diff_ci(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int = 4000
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of mean(a) - mean(b), the groups resampled independently."""
    ra, rb = bootstrap_means(a, rng, resamples), bootstrap_means(b, rng, resamples)
    if len(ra) == 0 or len(rb) == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(ra - rb, [2.5, 97.5])
    return (float(lo), float(hi))


def quantile_lower(values: np.ndarray, q: float) -> float:
    """The q-quantile as an observed value (inverted CDF, numpy's 'inverted_cdf')."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan
    return float(np.quantile(values, q, method="inverted_cdf"))


def bootstrap_quantile_ci(
    values: np.ndarray, q: float, rng: np.random.Generator, resamples: int = 4000
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the q-quantile (inverted CDF), via value counts."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (math.nan, math.nan)
    vals, counts = _value_counts(values)
    draws = rng.multinomial(len(values), counts / counts.sum(), size=resamples)
    cum = np.cumsum(draws, axis=1)
    target = q * len(values)
    # inverted CDF: the smallest value whose cumulative count reaches q * n
    idx = (cum < target - 1e-9).sum(axis=1)
    reps = vals[np.minimum(idx, len(vals) - 1)]
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return (float(lo), float(hi))


def max_count_outlier(counts: Sequence[int]) -> tuple[str, int, float, float]:
    """Is the largest of these counts (e.g. per hour) more than chance allows?

    Poisson test of the maximum against the mean of the other counts (leave-one-out, so the outlier
    does not raise its own baseline), Bonferroni-adjusted for having picked the maximum of len(counts).
    Returns (test name, index of the maximum, expected count, p-value).
    """
    c = np.asarray(counts, dtype=float)
    m = len(c)
    if m < 2:
        return ("Poisson max-count test", 0, math.nan, 1.0)
    idx = int(np.argmax(c))
    k = c[idx]
    mu = (c.sum() - k) / (m - 1)
    if k == 0:
        return (f"Poisson test of the largest of {m} counts (Bonferroni)", idx, mu, 1.0)
    from scipy.stats import poisson

    p_one = float(poisson.sf(k - 1, mu)) if mu > 0 else 0.0
    return (f"Poisson test of the largest of {m} counts (Bonferroni)", idx, float(mu), min(1.0, p_one * m))


def mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[str, float]:
    """Two-sided Mann-Whitney U test (normal approximation with tie correction for large samples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return ("Mann-Whitney U", 1.0)
    if np.all(np.concatenate([a, b]) == a[0]):
        return ("Mann-Whitney U", 1.0)
    from scipy.stats import mannwhitneyu

    method = "asymptotic" if min(len(a), len(b)) > 8 else "auto"
    res = mannwhitneyu(a, b, alternative="two-sided", method=method)
    return ("Mann-Whitney U", float(min(1.0, res.pvalue)))


def kruskal(groups: Sequence[np.ndarray]) -> tuple[str, float, float]:
    """Kruskal-Wallis H test across groups; (name, H, p); p = 1 when all values are identical."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g) > 0]
    name = f"Kruskal-Wallis ({max(len(groups) - 1, 0)} df)"
    if len(groups) < 2:
        return (name, 0.0, 1.0)
    allv = np.concatenate(groups)
    if np.all(allv == allv[0]):
        return (name, 0.0, 1.0)
    from scipy.stats import kruskal as _kruskal

    res = _kruskal(*groups)
    return (name, float(res.statistic), float(min(1.0, res.pvalue)))
