"""Small, dependency-light statistics for the EDA report (numpy + scipy.stats).

Every function takes counts or arrays and returns plain floats, so the report and its tests can check
them against an independent computation. Random resampling always goes through a Generator the caller
seeds, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ALPHA = 0.05
MIN_EXPECTED = 5  # below this expected cell count the chi-square / z approximations are not trusted


def norm_sf(z: float) -> float:
    """Upper tail of the standard normal (no scipy needed)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson(k: int, n: int, z: float = Z95, dispersion: float = 1.0) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n; (nan, nan) when n is 0.

    dispersion > 1 (cell_dispersion) widens it to the effective sample size n / dispersion: clicks of
    one day are not independent draws."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    n = n / max(1.0, dispersion)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact arithmetic puts p inside; keep it there when rounding does not (k = 0 or k = n)
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def diff_ci(k1: int, n1: int, k2: int, n2: int, z: float = Z95, dispersion: float = 1.0) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 - p2, built from the two Wilson intervals
    (each widened by dispersion, as in wilson)."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z, dispersion)
    l2, u2 = wilson(k2, n2, z, dispersion)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, lower), min(1.0, upper))


def two_proportion_test(k1: int, n1: int, k2: int, n2: int, dispersion: float = 1.0) -> tuple[str, float]:
    """Two-sided test of p1 = p2: the pooled two-proportion z-test, or Fisher's exact test when an
    expected cell count is below MIN_EXPECTED. Returns (test name, p-value).

    dispersion > 1 (from overdispersed_homogeneity) inflates the z-test's variance accordingly
    (quasi-binomial); Fisher's test is then not used."""
    if n1 <= 0 or n2 <= 0:
        return ("none (empty group)", 1.0)
    pooled = (k1 + k2) / (n1 + n2)
    expected = min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if dispersion > 1.0:
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2) * dispersion)
        if se == 0:
            return ("quasi-binomial z", 1.0)
        z = (k1 / n1 - k2 / n2) / se
        return ("quasi-binomial z", float(min(1.0, 2 * norm_sf(abs(z)))))
    if expected < MIN_EXPECTED:
        from scipy.stats import fisher_exact

        _, p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
        return ("Fisher exact", float(min(1.0, p)))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return ("two-proportion z", 1.0)
    z = (k1 / n1 - k2 / n2) / se
    return ("two-proportion z", float(min(1.0, 2 * norm_sf(abs(z)))))


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


def cell_dispersion(cell_k: Sequence[int], cell_n: Sequence[int], cell_group: Sequence[str] | None = None) -> float:
    """phi: the Pearson chi-square of the cells (e.g. a group's days) around their group's rate, divided by
    (cells - groups), floored at 1. 1 means the cells vary as binomial noise would; 2 means twice that."""
    k = np.asarray(cell_k, dtype=float)
    n = np.asarray(cell_n, dtype=float)
    g = np.asarray(cell_group if cell_group is not None else ["all"] * len(k), dtype=object)
    keep = n > 0
    k, n, g = k[keep], n[keep], g[keep]
    groups = set(g.tolist())
    dof = len(n) - len(groups)
    if dof <= 0:
        return 1.0
    rate = {x: k[g == x].sum() / n[g == x].sum() for x in groups}
    p_cell = np.array([rate[x] for x in g])
    var = n * p_cell * (1 - p_cell)
    pearson = float(np.where(var > 0, (k - n * p_cell) ** 2 / np.where(var > 0, var, 1), 0.0).sum())
    return max(1.0, pearson / dof)


def overdispersed_homogeneity(
    cell_k: Sequence[int], cell_n: Sequence[int], cell_group: Sequence[str]
) -> tuple[str, float, float, float]:
    """Chi-square test that every group has the same rate, corrected for overdispersion between cells.

    Clicks are not independent draws: a day (or a day's hour) shares traffic mix, partner outages and
    bursts. Each group (a weekday, an hour) is observed as several cells (its days); the dispersion
    phi = Pearson chi-square of the cells around their group's rate / (cells - groups), floored at 1,
    measures how much more the cells vary than binomial noise would. The test is the quasi-binomial
    F-test (chi-square of the group totals / (groups - 1)) / phi on (groups - 1, cells - groups) df.
    Returns (test name, F statistic, p-value, phi).
    """
    frame = {"k": np.asarray(cell_k, dtype=float), "n": np.asarray(cell_n, dtype=float),
             "g": np.asarray(cell_group, dtype=object)}
    keep = frame["n"] > 0
    k, n, g = frame["k"][keep], frame["n"][keep], frame["g"][keep]
    groups = sorted(set(g.tolist()), key=str)
    n_groups, n_cells = len(groups), len(n)
    name = "quasi-binomial F (chi-square / day-to-day dispersion)"
    if n_groups < 2 or n_cells <= n_groups:
        return (name, 0.0, 1.0, 1.0)
    kg = np.array([k[g == x].sum() for x in groups])
    ng = np.array([n[g == x].sum() for x in groups])
    pooled = kg.sum() / ng.sum()
    if pooled in (0.0, 1.0):
        return (name, 0.0, 1.0, 1.0)
    chi2_groups = float((((kg - ng * pooled) ** 2) / (ng * pooled * (1 - pooled))).sum())
    phi = cell_dispersion(k, n, g)
    from scipy.stats import f as f_dist

    stat = chi2_groups / (n_groups - 1) / phi
    p = float(f_dist.sf(stat, n_groups - 1, n_cells - n_groups))
    return (f"{name}, phi = {phi:.2f}, ({n_groups - 1}, {n_cells - n_groups}) df", stat, p, phi)


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


def _widen(estimate: float, lo: float, hi: float, dispersion: float) -> tuple[float, float]:
    """Widen an interval around its estimate by sqrt(dispersion) (a design effect)."""
    f = math.sqrt(max(1.0, dispersion))
    return (float(estimate - (estimate - lo) * f), float(estimate + (hi - estimate) * f))


def bootstrap_mean_ci(values: np.ndarray, rng: np.random.Generator, resamples: int = 4000,
                      dispersion: float = 1.0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean, widened by sqrt(dispersion) around the mean."""
    reps = bootstrap_means(values, rng, resamples)
    if len(reps) == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return _widen(float(np.mean(values)), float(lo), float(hi), dispersion)


def bootstrap_diff_ci(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int = 4000, dispersion: float = 1.0
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of mean(a) - mean(b), the groups resampled independently,
    widened by sqrt(dispersion) around the difference."""
    ra, rb = bootstrap_means(a, rng, resamples), bootstrap_means(b, rng, resamples)
    if len(ra) == 0 or len(rb) == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(ra - rb, [2.5, 97.5])
    return _widen(float(np.mean(a) - np.mean(b)), float(lo), float(hi), dispersion)


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


def mean_dispersion(values: Sequence[float], groups: Sequence[str], cells: Sequence[object]) -> float:
    """How much more the means of a group's cells (its days) vary than independent values would make
    them: sum over cells of n_c (mean_c - mean_g)^2 / var_g, divided by (cells - groups), floored at 1.
    The analogue for means of overdispersed_homogeneity's phi; 1 when it cannot be estimated."""
    frame = pd.DataFrame({"v": np.asarray(values, dtype=float), "g": np.asarray(groups, dtype=object),
                          "c": np.asarray(cells, dtype=object)})
    if frame.empty:
        return 1.0
    by_group = frame.groupby("g")["v"].agg(["mean", "var"])
    cell = frame.groupby(["g", "c"])["v"].agg(["size", "mean"]).reset_index()
    cell = cell.merge(by_group.rename(columns={"mean": "mean_g"}).reset_index(), on="g", how="left")
    cell = cell[cell["var"] > 0]
    dof = len(cell) - cell["g"].nunique()
    if dof <= 0:
        return 1.0
    pearson = float((cell["size"] * (cell["mean"] - cell["mean_g"]) ** 2 / cell["var"]).sum())
    return max(1.0, pearson / dof)


def mann_whitney(a: np.ndarray, b: np.ndarray, dispersion: float = 1.0) -> tuple[str, float]:
    """Two-sided Mann-Whitney U test (normal approximation with tie correction for large samples).

    dispersion > 1 (mean_dispersion) divides the normal statistic by sqrt(dispersion): registrations of
    one day are not independent, and the day-to-day variation must not pass for a difference."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    name = "Mann-Whitney U" + (f" (phi = {dispersion:.2f} from day-to-day variation)" if dispersion > 1 else "")
    if len(a) == 0 or len(b) == 0:
        return (name, 1.0)
    if np.all(np.concatenate([a, b]) == a[0]):
        return (name, 1.0)
    from scipy.stats import mannwhitneyu, norm

    method = "asymptotic" if min(len(a), len(b)) > 8 else "auto"
    p = float(mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)
    if dispersion > 1.0 and p > 0:
        z = float(norm.isf(p / 2)) / math.sqrt(dispersion)
        p = 2 * norm_sf(z)
    return (name, float(min(1.0, p)))


def kruskal(groups: Sequence[np.ndarray], dispersion: float = 1.0) -> tuple[str, float, float]:
    """Kruskal-Wallis H test across groups; (name, H, p); p = 1 when all values are identical.
    dispersion > 1 divides H by it before the chi-square reference (quasi-likelihood style)."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g) > 0]
    dof = max(len(groups) - 1, 0)
    name = f"Kruskal-Wallis ({dof} df" + (f", H / phi with phi = {dispersion:.2f} from day-to-day variation)"
                                          if dispersion > 1 else ")")
    if len(groups) < 2:
        return (name, 0.0, 1.0)
    allv = np.concatenate(groups)
    if np.all(allv == allv[0]):
        return (name, 0.0, 1.0)
    from scipy.stats import chi2
    from scipy.stats import kruskal as _kruskal

    h = float(_kruskal(*groups).statistic) / max(1.0, dispersion)
    return (name, h, float(min(1.0, chi2.sf(h, dof))))
