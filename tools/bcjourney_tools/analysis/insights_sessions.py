"""Sessions and time (issue #16): how many clicks a session makes and which of them the partner's registration is
linked to (and what first- or last-click credit would move between pages); value per click by weekday x hour;
value per click by market x page. The headline metric is the value per click: the sum of important_score over the
clicks, an unregistered click counting 0, beside the registration rate.

Value per click is a mean over clicks, so its tests are quasi-likelihood F / z tests of means whose dispersion
(report_stats.mean_dispersion) comes from the days: a weekday-hour or a market-page cell is observed on several
dates, and what the dates of one cell disagree by counts as noise, not as a pattern."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import BOOTSTRAP, NO_LINKS, TOP_COUNTRIES, Insight
from bcjourney_tools.analysis.report_compare import phi_note
from bcjourney_tools.analysis.report_data import LakeData
from bcjourney_tools.analysis.report_format import OTHER, ci_pct, fmt_num, fmt_p, pct

MIN_CELL_CLICKS = 30  # a weekday-hour or market-page cell with fewer clicks is masked: its value is noise
TOP_MATRIX_PAGES = 10
SIZE_BUCKETS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10**9, "6+"))
DIST_MAX = 10  # the clicks-per-session histogram: 1..9 and 10+
PATTERNS = ("every click", "first only", "last only", "a middle one only", "several, not all")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHOWN_PAGES = 8


def clicks_with_value(data: LakeData) -> pd.DataFrame:
    """The clicks in the export window with value = important_score (0 when unregistered or unscored)."""
    clicks = data.rows[data.rows["is_click"]].copy()
    clicks["value"] = clicks["important_score"].astype(float).fillna(0.0)
    clicks["registered"] = clicks["registered"].astype(bool)
    return clicks


def value_ci(values: np.ndarray, rng: np.random.Generator, dispersion: float = 1.0) -> list[float]:
    """Bootstrap 95% interval of the value per click; a score is never negative, nor is the widened bound."""
    lo, hi = st.bootstrap_mean_ci(np.asarray(values, dtype=float), rng, BOOTSTRAP, dispersion)
    return [max(0.0, lo), hi]


# --------------------------------------------------------------------------------------------------
# 1. sessions


def session_positions(clicks: pd.DataFrame) -> pd.DataFrame:
    """Each click with its session's size, its 0-based position in the session (by click time, then id) and the
    session's registrations."""
    c = clicks.sort_values(["session_id", "converted_at", "conversion_id"], kind="stable").copy()
    grouped = c.groupby("session_id", sort=False)
    c["pos"] = grouped.cumcount()
    c["size"] = grouped["registered"].transform("size")
    c["session_k"] = grouped["registered"].transform("sum")
    return c


def credit_patterns(pos: pd.DataFrame) -> pd.DataFrame:
    """Per session of 2+ clicks with a registration: which of its clicks the registrations are linked to."""
    multi = pos[(pos["size"] > 1) & (pos["session_k"] > 0)]
    linked = multi[multi["registered"]]
    first = linked.groupby("session_id")["pos"].min()
    sessions = multi.groupby("session_id").agg(size=("size", "first"), k=("session_k", "first"))
    sessions["linked_pos"] = first.reindex(sessions.index)
    single = sessions["k"] == 1
    pattern = np.select([sessions["k"] == sessions["size"], single & (sessions["linked_pos"] == 0),
                         single & (sessions["linked_pos"] == sessions["size"] - 1), single],
                        list(PATTERNS[:4]), PATTERNS[4])
    return sessions.assign(pattern=pattern)


def size_table(pos: pd.DataFrame, rng: np.random.Generator) -> list[dict]:
    """Per session-size bucket: sessions, clicks, registration rate and value per click with their intervals."""
    out = []
    for lo, hi, name in SIZE_BUCKETS:
        b = pos[(pos["size"] >= lo) & (pos["size"] <= hi)]
        n, k = len(b), int(b["registered"].sum())
        out.append({"segment": name, "sessions": int(b["session_id"].nunique()), "n": n, "k": k,
                    "rate": k / n if n else math.nan, "rate_ci": list(st.wilson(k, n)),
                    "value_per_click": float(b["value"].mean()) if n else math.nan,
                    "value_ci": value_ci(b["value"].to_numpy(), rng)})
    return out


def attribution_shift(pos: pd.DataFrame, rng: np.random.Generator) -> dict:
    """Sessions of 2+ clicks with a registration: their value (sum of scores) credited to the page of the first
    click, of the last click, or as linked (each registration's score to its own click's page)."""
    multi = pos[(pos["size"] > 1) & (pos["session_k"] > 0)]
    g = multi.groupby("session_id", sort=False)
    s = pd.DataFrame({"value": g["value"].sum(), "first": g["page_category"].first(),
                      "last": g["page_category"].last()})
    pages = sorted(set(multi["page_category"].astype(str)))
    index = {p: i for i, p in enumerate(pages)}
    fi, la = s["first"].map(index).to_numpy(), s["last"].map(index).to_numpy()
    v = s["value"].to_numpy(dtype=float)

    def net_moved(idx: np.ndarray) -> float:
        f = np.bincount(fi[idx], weights=v[idx], minlength=len(pages))
        la_ = np.bincount(la[idx], weights=v[idx], minlength=len(pages))
        return float(np.abs(f - la_).sum() / 2)

    everyone = np.arange(len(s))
    moved = net_moved(everyone) if len(s) else 0.0
    reps = [net_moved(rng.integers(0, len(s), len(s))) for _ in range(1000)] if len(s) else []
    table = pd.DataFrame({"first": pd.Series(v, index=s["first"].to_numpy()).groupby(level=0).sum(),
                          "last": pd.Series(v, index=s["last"].to_numpy()).groupby(level=0).sum(),
                          "linked": multi.groupby("page_category")["value"].sum()}).fillna(0.0)
    table["first_minus_last"] = table["first"] - table["last"]
    table = table.sort_values(["first_minus_last", "first"], ascending=[False, False])
    return {"sessions": int(len(s)), "value": float(v.sum()), "net_moved": moved,
            "net_moved_ci": list(np.percentile(reps, [2.5, 97.5])) if reps else [math.nan, math.nan],
            "gross_moved": float(v[s["first"].to_numpy() != s["last"].to_numpy()].sum()),
            "pages": [{"page": str(p), **{c: float(r[c]) for c in table.columns}} for p, r in table.iterrows()]}


def _credit_test(patterns: pd.DataFrame) -> tuple[int, int, str | None, float | None]:
    counts = patterns["pattern"].value_counts()
    first, last = int(counts.get("first only", 0)), int(counts.get("last only", 0))
    if first + last == 0:
        return first, last, None, None
    from scipy.stats import binomtest

    p = float(binomtest(last, first + last, 0.5).pvalue)
    return first, last, "exact binomial test, last-only vs first-only sessions (H0: 50/50)", p


def _sessions_finding(n_clicks: int, dist: pd.Series, buckets: list[dict], patterns: pd.DataFrame, shift: dict,
                      first: int, last: int, total_value: float) -> str:
    n_sessions = int(dist.sum())
    one = buckets[0]
    multi = [b for b in buckets[1:] if b["n"]]
    m_n, m_k = sum(b["n"] for b in multi), sum(b["k"] for b in multi)
    m_v = sum(b["value_per_click"] * b["n"] for b in multi)
    counts = patterns["pattern"].value_counts()
    reg_multi = len(patterns)
    text = (f"{n_sessions:,} sessions made {n_clicks:,} clicks: {pct(one['sessions'] / n_sessions)} "
            f"a single click (value per click {fmt_num(one['value_per_click'], 3)}, 95% CI "
            f"{fmt_num(one['value_ci'][0], 3)} to {fmt_num(one['value_ci'][1], 3)}; registration rate "
            f"{pct(one['rate'])}); the clicks of multi-click sessions: value per click "
            f"{fmt_num(m_v / m_n if m_n else math.nan, 3)}, rate {pct(m_k / m_n if m_n else math.nan)} "
            f"(n = {m_n:,}). ")
    if reg_multi:
        every = int(counts.get("every click", 0))
        text += (f"Of the {reg_multi:,} multi-click sessions with a registration, {pct(every / reg_multi)} "
                 f"(95% CI {ci_pct(st.wilson(every, reg_multi))}) have every click linked to a registration of its "
                 f"own; credit sits on one click only in {first + last + int(counts.get('a middle one only', 0)):,}: "
                 f"the first in {first:,}, the last in {last:,}, a middle one in "
                 f"{int(counts.get('a middle one only', 0)):,}; {int(counts.get('several, not all', 0)):,} credit "
                 "several but not all. ")
    if shift["sessions"]:
        lo, hi = shift["net_moved_ci"]
        text += (f"Crediting each such session's value ({shift['value']:,.0f} score points) to its first instead "
                 f"of its last click would move {shift['net_moved']:,.0f} points (bootstrap 95% CI {lo:,.0f} to "
                 f"{hi:,.0f}; {pct(shift['net_moved'] / total_value if total_value else math.nan)} of all the "
                 f"window's value) between page categories; sessions whose first and last pages differ hold "
                 f"{shift['gross_moved']:,.0f} points.")
        gain = [p for p in shift["pages"] if p["first_minus_last"] > 0][:2]
        lose = [p for p in shift["pages"][::-1] if p["first_minus_last"] < 0][:2]
        if gain or lose:
            text += (" First-click credit would raise " + (", ".join(
                f"{p['page']} ({p['first_minus_last']:+,.0f})" for p in gain) or "no page") + " and lower " + (
                ", ".join(f"{p['page']} ({p['first_minus_last']:+,.0f})" for p in lose) or "no page") + ".")
    return text


def sessions(data: LakeData, rng: np.random.Generator) -> Insight:
    clicks = clicks_with_value(data)
    pos = session_positions(clicks)
    sizes = pos.groupby("session_id")["size"].first()
    dist = sizes.clip(upper=DIST_MAX).value_counts().sort_index()
    buckets = size_table(pos, rng)
    patterns = credit_patterns(pos)
    shift = attribution_shift(pos, rng)
    first, last = int((patterns["pattern"] == "first only").sum()), int((patterns["pattern"] == "last only").sum())
    _, _, test, p = _credit_test(patterns)
    single = first + last
    finding = _sessions_finding(len(pos), dist, buckets, patterns, shift, first, last, float(clicks["value"].sum()))

    def act(_: Insight) -> str:
        side, other = ("last", "first") if last > first else ("first", "last")
        sign = 1 if side == "last" else -1  # the pages the other rule would credit more are under-credited now
        gain = [x["page"] for x in sorted(shift["pages"], key=lambda x: -sign * x["first_minus_last"])
                if sign * x["first_minus_last"] > 0][:3]
        return (f"When a session's registration is linked to one of its clicks, it is the {side} one more often "
                f"({pct(last / single)} last, of {single:,} such sessions): the {other}-touch pages are "
                f"under-credited; judge pages with session-level credit too: under {other}-click credit "
                f"{', '.join(gain) or 'no page'} gain the most ({shift['net_moved']:,.0f} score points move "
                "between pages).")

    action = NO_LINKS if not clicks["registered"].any() else (
        "No multi-click session credits its first or its last click alone: nothing to compare." if test is None
        else "")
    mean_ci = value_ci(sizes.to_numpy(), rng)
    ins = Insight(key="sessions", title="Clicks per session and which click gets the registration",
                  finding=finding, number=last / single if single else math.nan,
                  number_label="share of single-credit multi-click sessions whose linked click is the last",
                  ci=st.wilson(last, single) if single else (math.nan, math.nan), ci_method="Wilson 95%",
                  unit="rate", test=test, p_value=p, action=action,
                  details={"sessions": int(len(sizes)), "mean_clicks_per_session": float(sizes.mean()),
                           "mean_clicks_ci": mean_ci, "distribution": {str(k): int(v) for k, v in dist.items()},
                           "buckets": buckets, "patterns": patterns["pattern"].value_counts().to_dict(),
                           "first_only": first, "last_only": last, "shift": shift},
                  plot_data={"distribution": dist, "buckets": buckets, "patterns": patterns["pattern"]
                             .value_counts().reindex(PATTERNS, fill_value=0), "shift": shift})
    ins._action_if_significant = act
    return ins


# --------------------------------------------------------------------------------------------------
# value per click across cells observed on several dates: the quasi-F omnibus, the cells against the rest


def quasi_f_means(values: np.ndarray, groups: np.ndarray, days: np.ndarray) -> tuple[str, float, float, float] | None:
    """Do the groups' mean values differ more than the day-to-day variation of a group allows? The between-group
    sum of squares over the pooled variance, per df, divided by phi (st.mean_dispersion over the (group, date)
    cells), on an F(groups - 1, cells - groups) reference. None when no group is seen on two dates."""
    frame = pd.DataFrame({"v": np.asarray(values, dtype=float), "g": groups, "d": days})
    n_groups = frame["g"].nunique()
    n_cells = len(frame.drop_duplicates(["g", "d"]))
    if n_groups < 2 or n_cells <= n_groups:
        return None
    phi = st.mean_dispersion(frame["v"], frame["g"], frame["d"])
    var = float(frame["v"].var(ddof=1))
    name = f"quasi-likelihood F of value per click, dates as units (phi = {phi:.2f}, ({n_groups - 1}, " \
           f"{n_cells - n_groups}) df)"
    if not var > 0:
        return name, 0.0, 1.0, phi
    by = frame.groupby("g")["v"].agg(["size", "mean"])
    stat = float((by["size"] * (by["mean"] - frame["v"].mean()) ** 2).sum() / var / (n_groups - 1) / phi)
    from scipy.stats import f as f_dist

    return name, stat, float(f_dist.sf(stat, n_groups - 1, n_cells - n_groups)), phi


def value_segments(frame: pd.DataFrame, label: str, rng: np.random.Generator, phi: float) -> list[dict]:
    """Per cell (frame[label]): n, registrations, rate, value per click with its bootstrap CI (widened by phi), and
    the Mann-Whitney test of its clicks' values against the other cells' (the report's rule for scores: robust to
    the few large scores a mean of mostly zeros hangs on), Holm-adjusted over the cells. Highest value first; among
    equal values the cell with more clicks last (the lowest named is the best-evidenced one)."""
    values, labels = frame["value"].to_numpy(dtype=float), frame[label].to_numpy()
    segs = []
    for name, g in frame.groupby(label, sort=False):
        n, v = len(g), g["value"].to_numpy(dtype=float)
        rest = values[labels != name]
        rest_mean = float(rest.mean()) if len(rest) else math.nan
        test, p = st.mann_whitney(v, rest, phi)
        k = int(g["registered"].sum())
        segs.append({"segment": str(name), "n": n, "k": k, "registration_rate": k / n,
                     "rate_ci": list(st.wilson(k, n, dispersion=phi)), "mean": float(v.mean()),
                     "value": float(v.sum()), "ci": value_ci(v, rng, phi), "rest_mean": rest_mean,
                     "test_vs_rest": test, "p_value": float(p)})
    for s, adj in zip(segs, st.holm([s["p_value"] for s in segs])):
        s["p_adjusted"] = adj
    return sorted(segs, key=lambda s: (-s["mean"], s["n"], s["segment"]))


def _cell(s: dict) -> str:
    return (f"{s['segment']} ({fmt_num(s['mean'], 3)} per click, 95% CI {fmt_num(s['ci'][0], 3)} to "
            f"{fmt_num(s['ci'][1], 3)}, n = {s['n']:,})")


def _above_below(segs: list[dict], what: str, then_above: str, then_below: str) -> str:
    sig = [s for s in segs if s["p_adjusted"] < st.ALPHA]
    above = [s for s in sig if s["mean"] > s["rest_mean"]]
    below = sorted([s for s in sig if s["mean"] < s["rest_mean"]], key=lambda s: s["mean"])
    if not above and not below:
        return (f"The {what} differ as a whole, but no single cell differs from the rest after Holm correction: "
                "no targeted action; keep monitoring.")
    parts = []
    if above:
        parts.append(f"{what} above the rest: " + ", ".join(_cell(s) for s in above[:5]) + f"; {then_above}")
    if below:
        parts.append(f"{what} below the rest: " + ", ".join(_cell(s) for s in below[:5]) + f"; {then_below}")
    return "; ".join(parts) + "."


def _spread(segs: list[dict], frame: pd.DataFrame, label: str, rng: np.random.Generator,
            phi: float) -> tuple[float, tuple[float, float]]:
    if len(segs) < 2:
        return math.nan, (math.nan, math.nan)
    hi, lo = segs[0], segs[-1]
    a = frame.loc[frame[label] == hi["segment"], "value"].to_numpy(dtype=float)
    b = frame.loc[frame[label] == lo["segment"], "value"].to_numpy(dtype=float)
    return hi["mean"] - lo["mean"], st.bootstrap_diff_ci(a, b, rng, BOOTSTRAP, phi)


# --------------------------------------------------------------------------------------------------
# 2. weekday x hour


def weekday_hour_grid(clicks: pd.DataFrame) -> pd.DataFrame:
    """The 7 x 24 cells (weekday 0 = Monday, hour UTC): clicks, registrations, value, rate, value per click."""
    t = clicks["converted_at"]
    cells = (pd.DataFrame({"weekday": t.dt.day_of_week.to_numpy(), "hour": t.dt.hour.to_numpy(),
                           "registered": clicks["registered"].to_numpy(), "value": clicks["value"].to_numpy()})
             .groupby(["weekday", "hour"]).agg(n=("value", "size"), k=("registered", "sum"), value=("value", "sum")))
    full = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
    grid = cells.reindex(full, fill_value=0).reset_index()
    grid["rate"] = grid["k"] / grid["n"].where(grid["n"] > 0)
    grid["value_per_click"] = grid["value"] / grid["n"].where(grid["n"] > 0)
    grid["masked"] = grid["n"] < MIN_CELL_CLICKS
    return grid


def cell_name(weekday: int, hour: int) -> str:
    return f"{WEEKDAYS[int(weekday)]} {int(hour):02d}h"


def weekday_hour_heatmap(data: LakeData, rng: np.random.Generator) -> Insight:
    clicks = clicks_with_value(data)
    grid = weekday_hour_grid(clicks)
    t = clicks["converted_at"]
    clicks = clicks.assign(cell=[cell_name(w, h) for w, h in zip(t.dt.day_of_week, t.dt.hour)],
                           day=t.dt.floor("D"))
    shown = set(cell_name(r.weekday, r.hour) for r in grid[~grid["masked"]].itertuples())
    kept = clicks[clicks["cell"].isin(shown)]
    tested = quasi_f_means(kept["value"].to_numpy(), kept["cell"].to_numpy(), kept["day"].to_numpy())
    test, stat, p, phi = tested if tested else (None, math.nan, None, 1.0)
    rate_test = st.overdispersed_homogeneity(*_rate_cells(kept)) if tested else None
    segs = value_segments(kept, "cell", rng, phi)
    number, ci = _spread(segs, kept, "cell", rng, phi)
    busiest = grid.loc[grid["n"].idxmax()]
    per_date = clicks.groupby("cell")["day"].nunique()
    finding = (f"{len(clicks):,} clicks over {clicks['day'].nunique()} dates; {len(segs)} of the 168 weekday x hour "
               f"(UTC) cells have at least {MIN_CELL_CLICKS} clicks{' (the rest masked)' if len(segs) < 168 else ''}. "
               "Busiest: "
               f"{cell_name(busiest.weekday, busiest.hour)} with {int(busiest.n):,} clicks (value per click "
               f"{fmt_num(busiest.value_per_click, 3)}, rate {pct(busiest.rate)}). ")
    if segs:
        finding += (f"Highest value per click: {_cell(segs[0])}; lowest: {_cell(segs[-1])}; overall "
                    f"{fmt_num(float(clicks['value'].mean()), 3)}. ")
    if tested is None:
        finding += (f"Each cell is seen on at most {int(per_date.max()) if len(per_date) else 0} date(s): the days "
                    "cannot be told apart from the weekday-hour, so the pattern is not tested.")
    else:
        finding += (f"Tested with the dates as units (each cell seen on {int(per_date.min())} to "
                    f"{int(per_date.max())} dates): value per click p = {fmt_p(p)}; registration rate "
                    f"{rate_test[0]}, p = {fmt_p(rate_test[2])}.")
    action = NO_LINKS if not clicks["registered"].any() else (
        "No action: too few dates per weekday-hour to tell a weekly pattern from day-to-day noise; "
        "revisit with several weeks of data." if tested is None else "")
    ins = Insight(key="weekday_hour_heatmap", title="Clicks and value per click by weekday x hour (UTC)",
                  finding=finding, number=number,
                  number_label="highest minus lowest value per click of the unmasked weekday-hour cells",
                  ci=tuple(ci), ci_method=f"percentile bootstrap of the difference of means{phi_note(phi)} (not "
                                          "adjusted for picking the extremes)",
                  unit="score_diff", test=test, p_value=p, action=action, segments=segs,
                  details={"statistic": stat, "dispersion": phi, "min_cell_clicks": MIN_CELL_CLICKS,
                           "busiest": {"cell": cell_name(busiest.weekday, busiest.hour), "n": int(busiest.n)},
                           "rate_test": list(rate_test) if rate_test else None,
                           "overall_value_per_click": float(clicks["value"].mean())},
                  plot_data={"grid": grid})
    ins._action_if_significant = lambda i: _above_below(
        i.segments, "Weekday-hours", "time newsletters and paid campaigns towards them",
        "check the partner's sign-up availability then before moving any budget")
    return ins


def _rate_cells(kept: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    cells = kept.groupby(["cell", "day"]).agg(n=("registered", "size"), k=("registered", "sum")).reset_index()
    return cells["k"], cells["n"], cells["cell"]


# --------------------------------------------------------------------------------------------------
# 3. market x page


def country_page_cells(clicks: pd.DataFrame) -> tuple[list[str], list[str], pd.DataFrame]:
    """The top markets and pages by clicks, and their matrix: clicks, registrations, value, value per click."""
    countries = clicks["country_code"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    pages = clicks["page_category"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    rows, cols = list(countries.index[:TOP_COUNTRIES]), list(pages.index[:TOP_MATRIX_PAGES])
    inside = clicks[clicks["country_code"].isin(rows) & clicks["page_category"].isin(cols)]
    cells = (inside.groupby(["country_code", "page_category"])
             .agg(n=("value", "size"), k=("registered", "sum"), value=("value", "sum")))
    full = pd.MultiIndex.from_product([rows, cols], names=["country_code", "page_category"])
    matrix = cells.reindex(full, fill_value=0).reset_index()
    matrix["value_per_click"] = matrix["value"] / matrix["n"].where(matrix["n"] > 0)
    matrix["masked"] = matrix["n"] < MIN_CELL_CLICKS
    return rows, cols, matrix


def country_page_value(data: LakeData, rng: np.random.Generator) -> Insight:
    clicks = clicks_with_value(data)
    rows, cols, matrix = country_page_cells(clicks)
    shown = matrix[~matrix["masked"]]
    keys = set(zip(shown["country_code"], shown["page_category"]))
    pair = list(zip(clicks["country_code"], clicks["page_category"]))
    kept = clicks[[x in keys for x in pair]].copy()
    kept["cell"] = kept["country_code"].astype(str) + " x " + kept["page_category"].astype(str)
    kept["day"] = kept["converted_at"].dt.floor("D")
    tested = quasi_f_means(kept["value"].to_numpy(), kept["cell"].to_numpy(), kept["day"].to_numpy())
    test, stat, p, phi = tested if tested else (None, math.nan, None, 1.0)
    segs = value_segments(kept, "cell", rng, phi)
    total_value, total_n = float(clicks["value"].sum()), len(clicks)
    top = segs[:5]
    top_value, top_n = sum(s["value"] for s in top), sum(s["n"] for s in top)
    finding = (f"The top {len(rows)} markets x top {len(cols)} page categories by clicks: {len(segs)} of "
               f"{len(matrix)} cells have at least {MIN_CELL_CLICKS} clicks and hold {pct(len(kept) / total_n)} of "
               f"the clicks and {pct(kept['value'].sum() / total_value if total_value else math.nan)} of the value. ")
    if segs:
        finding += ("Highest value per click: " + "; ".join(_cell(s) for s in segs[:3]) + f". Lowest: "
                    f"{_cell(segs[-1])}; overall {fmt_num(total_value / total_n if total_n else math.nan, 3)}. "
                    f"The {len(top)} best cells hold {pct(top_n / total_n)} of the clicks and "
                    f"{pct(top_value / total_value if total_value else math.nan)} of the value.")
    action = NO_LINKS if not clicks["registered"].any() else (
        "Too few dates to test the cells against day-to-day noise: no action." if tested is None else "")
    best = segs[0] if segs else {"segment": "n/a", "mean": math.nan, "ci": [math.nan, math.nan]}
    ins = Insight(key="country_page_value", title="Value per click by market x page category",
                  finding=finding, number=best["mean"],
                  number_label=f"value per click of the best market x page cell ({best['segment']})",
                  ci=tuple(best["ci"]), ci_method=f"percentile bootstrap{phi_note(phi)} (not adjusted for picking "
                                                  "the best cell)",
                  unit="score", test=test, p_value=p, action=action, segments=segs,
                  details={"statistic": stat, "dispersion": phi, "countries": rows, "pages": cols,
                           "min_cell_clicks": MIN_CELL_CLICKS, "top_cells_value_share":
                               top_value / total_value if total_value else math.nan,
                           "top_cells_click_share": top_n / total_n if total_n else math.nan,
                           "overall_value_per_click": total_value / total_n if total_n else math.nan},
                  plot_data={"matrix": matrix, "countries": rows, "pages": cols, "other": OTHER})
    ins._action_if_significant = lambda i: _above_below(
        i.segments, "Market x page cells", "give those pages prominence (placement, newsletter, paid traffic) in "
        "those markets", "check the partner's offer on those pages in those markets before cutting their traffic")
    return ins
