"""The clicks whose measurement category the page-category mapping lacks ('Unknown'), opened: which codes, in which
families, how many clicks, registrations and how much value each brings; the to-do list of the mapping's owner.

A family is a code's first level (`01safety` of `01safety/02isscam/03notrel`): the page type, as the mapping groups
its own 40 codes (15 first levels). A code of a page type the mapping knows most likely wants one more row of that
type; a page type the mapping lacks wants new page categories. As a hint, each family names the mapped categories
that share a stem (the six letters of a level, `notrel` aside) with one of its codes.

Scope: the clicks of the whole lake count for the to-do list (every one of them is reported as 'Unknown'); the
registration rate and the value per click (the linked registrations' important_score summed over all clicks, so an
unlinked click counts 0) are over the partner export's window, as the other insights' rates are.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from bcjourney.matching.journeys import UNKNOWN_PAGE

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import BOOTSTRAP, SEED, Insight
from bcjourney_tools.analysis.local_sql import connect_lake
from bcjourney_tools.analysis.report_data import LakeData
from bcjourney_tools.analysis.report_format import OTHER, ci_pct, fmt_num, pct, pp

TOP_CODES = 12  # codes shown one by one (segments, plot); the rest pooled as OTHER
TOP_FAMILIES = 3  # families the action names
MIN_PAGE_CLICKS = 100  # page categories ranked by value per click need this many clicks in the window
BIG_PAGE_CLICKS = 1000  # ... and ranked again among the large ones
NOT_RELEVANT = "notrel"  # the mapping's filler level: shared by most codes, so no hint

CLICKS_SQL = """
SELECT measurement_category, page_category, converted_at, partner IS NOT NULL AS registered,
       CAST(important_score AS DOUBLE) AS important_score
FROM unified_journeys WHERE conversion_id IS NOT NULL
"""


def family_of(code: str) -> str:
    """A code's family: its first level ('01safety/02isscam/03notrel' -> '01safety')."""
    return str(code).split("/", 1)[0]


def stems(code: str) -> set[str]:
    """The six-letter stems of a code's levels, the filler 'notrel' aside ('01safety/02isscam/03notrel' ->
    {'safety', 'isscam'})."""
    return {level[2:] for level in str(code).split("/") if len(level) > 2 and level[2:] != NOT_RELEVANT}


def load_clicks(data: LakeData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every click of the lake: measurement_category, page_category, registered, value, in_window; the mapping in
    force: page_category, measurement_category)."""
    con = connect_lake(data.lake_dir)
    clicks = con.execute(CLICKS_SQL).df()
    mapping = con.execute("SELECT page_category, measurement_category FROM page_categories").df()
    cov = data.coverage
    if cov.restricted:  # as report_data scopes its view: converted_at BETWEEN start AND end
        clicks["in_window"] = clicks["converted_at"].between(cov.start, cov.end)
    else:
        clicks["in_window"] = True
    clicks["registered"] = clicks["registered"].astype(bool)
    clicks["value"] = clicks["important_score"].fillna(0.0).astype(float)
    clicks["unmapped"] = clicks["page_category"].astype("string").eq(UNKNOWN_PAGE).fillna(False).astype(bool)
    return clicks, mapping


def _signed(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.3f}"


def _ordinal(rank: int) -> str:
    """'' for 1, '2nd ' for 2, ...: 'the lowest', 'the 2nd lowest'."""
    if rank == 1:
        return ""
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix} "


def _hints(family: str, codes: list[str], mapping: pd.DataFrame) -> list[str]:
    """The mapped categories of other page types that share a stem with one of the family's codes."""
    wanted = set().union(*(stems(c) for c in codes)) if codes else set()
    return [f"{r.page_category} ({r.measurement_category})" for r in mapping.itertuples()
            if family_of(r.measurement_category) != family and stems(r.measurement_category) & wanted]


def _segment(label: str, family: str, lake: pd.DataFrame, window: pd.DataFrame, rng: np.random.Generator) -> dict:
    n, k = len(window), int(window["registered"].sum())
    value = window["value"].to_numpy()
    return {"segment": label, "family": family, "clicks_lake": len(lake), "n": n, "k": k,
            "rate": k / n if n else math.nan, "ci": list(st.wilson(k, n)),
            "value_per_click": float(value.mean()) if n else math.nan,
            "value_ci": list(st.bootstrap_mean_ci(value, rng, BOOTSTRAP)),
            "value": float(value.sum())}


def _families(unmapped: pd.DataFrame, by_code: pd.DataFrame, mapping: pd.DataFrame) -> list[dict]:
    """The unmapped codes by family, largest first: clicks, codes, and what the mapping already has of the kind."""
    known_families = {family_of(c) for c in mapping["measurement_category"]}
    families = []
    for fam, g in by_code.groupby("family", sort=False):
        rows = unmapped[unmapped["measurement_category"].isin(g["code"])]
        win = rows[rows["in_window"]]
        families.append({
            "family": fam, "label": f"{fam}/…", "clicks_lake": int(g["clicks"].sum()), "codes": len(g),
            "code_clicks": {str(r.code): int(r.clicks) for r in g.itertuples()},
            "known_page_type": fam in known_families,
            "mapped_of_same_type": sorted(mapping.loc[mapping["measurement_category"].map(family_of) == fam,
                                                      "page_category"].tolist()),
            "shares_a_stem_with": _hints(str(fam), g["code"].tolist(), mapping),
            "clicks": len(win), "registrations": int(win["registered"].sum()),
            "value_per_click": float(win["value"].mean()) if len(win) else math.nan,
        })
    return sorted(families, key=lambda f: (-f["clicks_lake"], f["family"]))


def _code_segments(unmapped: pd.DataFrame, codes: list[str], mapped_window: pd.DataFrame,
                   rng: np.random.Generator) -> list[dict]:
    """The codes one by one (largest first), the smaller ones pooled; each one with clicks inside the window has its
    registration rate tested against the mapped clicks' (Holm-adjusted within the insight)."""
    shown = codes[:TOP_CODES]
    segments = []
    for code in shown:
        rows = unmapped[unmapped["measurement_category"] == code]
        segments.append(_segment(code, family_of(code), rows, rows[rows["in_window"]], rng))
    rest = unmapped[~unmapped["measurement_category"].isin(shown)]
    if len(rest):
        segments.append(_segment(OTHER, OTHER, rest, rest[rest["in_window"]], rng))
    n_mapped, k_mapped = len(mapped_window), int(mapped_window["registered"].sum())
    tested = [s for s in segments if s["n"]]  # a code seen only outside the window has no rate to compare
    for s in tested:
        s["test_vs_rest"], s["p_value"] = st.two_proportion_test(s["k"], s["n"], k_mapped, n_mapped)
        s["rest_rate"] = k_mapped / n_mapped if n_mapped else math.nan
    for s, adj in zip(tested, st.holm([s["p_value"] for s in tested])):
        s["p_adjusted"] = adj
        s["significant"] = bool(adj < st.ALPHA)
    return segments


def _window_comparison(clicks: pd.DataFrame, rng: np.random.Generator) -> dict:
    """Inside the export window, the unmapped clicks against the mapped ones (rate, value per click), and where
    'Unknown' ranks among the page categories by value per click."""
    window = clicks[clicks["in_window"]]
    u, m = window[window["unmapped"]], window[~window["unmapped"]]
    n_u, k_u, n_m, k_m = len(u), int(u["registered"].sum()), len(m), int(m["registered"].sum())
    pages = window.groupby(window["page_category"].fillna("(unmapped)").astype(str)).agg(
        clicks=("value", "size"), value=("value", "sum"))
    pages = pages[pages["clicks"] >= MIN_PAGE_CLICKS]
    pages["value_per_click"] = pages["value"] / pages["clicks"]
    pages = pages.sort_values(["value_per_click", "clicks"], ascending=[True, False], kind="stable")
    big = pages[pages["clicks"] >= BIG_PAGE_CLICKS]
    return {"unmapped_clicks": n_u, "unmapped_registrations": k_u, "unmapped_rate": k_u / n_u if n_u else math.nan,
            "unmapped_rate_ci": list(st.wilson(k_u, n_u)),
            "mapped_clicks": n_m, "mapped_registrations": k_m, "mapped_rate": k_m / n_m if n_m else math.nan,
            "rate_diff_ci": list(st.diff_ci(k_u, n_u, k_m, n_m)),
            "unmapped_value_per_click": float(u["value"].mean()) if n_u else math.nan,
            "unmapped_value_ci": list(st.bootstrap_mean_ci(u["value"].to_numpy(), rng, BOOTSTRAP)),
            "mapped_value_per_click": float(m["value"].mean()) if n_m else math.nan,
            "mapped_value_ci": list(st.bootstrap_mean_ci(m["value"].to_numpy(), rng, BOOTSTRAP)),
            "value_diff_ci": list(st.bootstrap_diff_ci(u["value"].to_numpy(), m["value"].to_numpy(), rng, BOOTSTRAP)),
            "value_rank_lowest": list(pages.index).index(UNKNOWN_PAGE) + 1 if UNKNOWN_PAGE in pages.index else None,
            "value_rank_lowest_big": list(big.index).index(UNKNOWN_PAGE) + 1 if UNKNOWN_PAGE in big.index else None,
            "pages_ranked": int(len(pages)), "big_pages_ranked": int(len(big)),
            "page_value_per_click": {str(k): float(v) for k, v in pages["value_per_click"].items()}}


def _family_text(f: dict, codes: int = 3) -> str:
    listed = ", ".join(f"{c} {n:,}" for c, n in list(f["code_clicks"].items())[:codes])
    more = f" and {f['codes'] - codes} more" if f["codes"] > codes else ""
    return f"{f['label']} {f['clicks_lake']:,} clicks ({listed}{more})"


def _window_text(w: dict) -> str:
    if not w["unmapped_clicks"]:
        return ""
    text = (f" Inside the partner export's window ({w['unmapped_clicks']:,} of them): registration rate "
            f"{pct(w['unmapped_rate'])} (95% CI {ci_pct(w['unmapped_rate_ci'])}) against {pct(w['mapped_rate'])} for "
            f"mapped clicks ({pp(w['unmapped_rate'] - w['mapped_rate'])}, 95% CI {pp(w['rate_diff_ci'][0])} to "
            f"{pp(w['rate_diff_ci'][1])}); value per click {fmt_num(w['unmapped_value_per_click'], 3)} (bootstrap 95% "
            f"CI {fmt_num(w['unmapped_value_ci'][0], 3)} to {fmt_num(w['unmapped_value_ci'][1], 3)}) against "
            f"{fmt_num(w['mapped_value_per_click'], 3)} "
            f"({_signed(w['unmapped_value_per_click'] - w['mapped_value_per_click'])}, 95% CI "
            f"{_signed(w['value_diff_ci'][0])} to {_signed(w['value_diff_ci'][1])})")
    rank, rank_big = w["value_rank_lowest"], w["value_rank_lowest_big"]
    if rank is not None:
        text += (f", the {_ordinal(rank)}lowest of the {w['pages_ranked']} page categories with at least "
                 f"{MIN_PAGE_CLICKS} clicks in the window")
        if rank_big is not None and rank_big != rank:
            text += (f" and the {_ordinal(rank_big)}lowest of the {w['big_pages_ranked']} with at least "
                     f"{BIG_PAGE_CLICKS:,}")
    return text + "."


def _action(families: list[dict], codes: int) -> str:
    todo = []
    for f in families[:TOP_FAMILIES]:
        if f["known_page_type"]:
            same = f["mapped_of_same_type"]
            hint = (f"page type {f['family']} is mapped ({len(same)} categor{'y' if len(same) == 1 else 'ies'}, "
                    f"e.g. {same[0]}): one more row each")
        else:
            hint = f"page type {f['family']} is not in the mapping at all: it needs new page categories"
        if f["shares_a_stem_with"]:
            hint += "; shares a stem with " + ", ".join(f["shares_a_stem_with"][:3])
        todo.append(f"{_family_text(f)}: {hint}")
    return (f"Mapping owner: add the {codes} code{'s' if codes != 1 else ''} to reference/page_category_mapping.csv, "
            "largest family first: " + "; ".join(todo)
            + (f"; then the {len(families) - TOP_FAMILIES} smaller families (details)"
               if len(families) > TOP_FAMILIES else "")
            + ". The page category is joined when a day is matched: re-match the lake's days after the upload, so "
            "these clicks leave 'Unknown' in the page-category insights.")


def unknown_categories(data: LakeData) -> Insight:
    rng = np.random.default_rng(SEED)
    clicks, mapping = load_clicks(data)
    unmapped = clicks[clicks["unmapped"]]
    n_all, n_unmapped = len(clicks), len(unmapped)
    share = n_unmapped / n_all if n_all else math.nan
    ci = st.wilson(n_unmapped, n_all)
    by_code = unmapped.groupby("measurement_category").size().rename_axis("code").reset_index(name="clicks")
    by_code = by_code.sort_values(["clicks", "code"], ascending=[False, True], kind="stable")
    by_code["family"] = by_code["code"].map(family_of)
    families = _families(unmapped, by_code, mapping)
    codes = _code_segments(unmapped, by_code["code"].tolist(), clicks[~clicks["unmapped"] & clicks["in_window"]], rng)
    segments = [s for s in codes if s["n"]]  # the report's segments: those with a rate; the plot shows every code
    window = _window_comparison(clicks, rng)
    if n_unmapped == 0:
        finding = (f"All {n_all:,} clicks of the lake carry a measurement category the mapping knows: "
                   "no click is 'Unknown'.")
        action = ("Nothing to map. Keep this check in the report: a new page type shows up here as 'Unknown' clicks "
                  "before anyone misses it.")
    else:
        finding = (f"{n_unmapped:,} of {n_all:,} clicks ({pct(share)}, 95% CI {ci_pct(ci)}) carry one of "
                   f"{len(by_code)} measurement categories the mapping lacks and are reported as page category "
                   f"'{UNKNOWN_PAGE}', in {len(families)} famil{'y' if len(families) == 1 else 'ies'}: "
                   + "; ".join(_family_text(f) for f in families[:5])
                   + (f"; and {len(families) - 5} more" if len(families) > 5 else "") + "."
                   + _window_text(window))
        action = _action(families, len(by_code))
    return Insight(key="unknown_categories", title="Data quality: clicks on measurement categories the mapping lacks",
                   finding=finding, number=share,
                   number_label="clicks on unmapped measurement categories / clicks (whole lake)", ci=ci,
                   ci_method="Wilson 95%", action=action, kind="quality", segments=segments,
                   details={"clicks": n_all, "unmapped_clicks": n_unmapped, "unmapped_codes": len(by_code),
                            "codes_outside_window": [s["segment"] for s in codes if not s["n"]],
                            "families": families, "window": window},
                   plot_data={"codes": codes, "families": families,
                              "mapped_value_per_click": window["mapped_value_per_click"],
                              "mapped_rate": window["mapped_rate"]})
