"""Synthetic landing data with ground truth: clicks, one partner's registrations, the page mapping.

``generate(out_dir)`` writes a landing folder shaped like the real one::

    conversions/conversions_<YYYYMMDD>.csv            ';'-delimited, LF, one file per day
    broker/<partner>/registrations_<YYYYMMDD>.csv     ',' delimited, Unix seconds, one file per day
    reference/page_category_mapping.csv               ';'-delimited, CRLF, the 40-row mapping
    truth.csv                                         broker_source_file,broker_source_line,conversion_id

The distributions mirror the real homework extract (volumes, diurnal and weekly pattern, country
mix, session sizes, UI elements per device, page codes per UI element, registration delays, score
and residency shares) and so do its blemishes: three country-naming schemes (Google names in the
clicks, ISO/UN names for the partner's ip_country, a third, shorter scheme for residency), the
Palestine clicks written twice as 'West Bank' and 'Gaza Strip' under one id, rare exact repeats,
SQL-injection payloads, 'Peace' and scrambled codes, vulnerability-scanner bursts, page codes the
mapping does not know, '#REF!' scores, an unquoted comma in 'Bonaire, Sint Eustatius and Saba',
partner files with a BOM, CRLF line ends or no final newline.

Everything is generated and written one day at a time (memory is bounded by one day's volume);
registrations that fall after midnight are carried to the next day's file. The output is a pure
function of the arguments: the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .clicks import _clicks_for_day
from .planted import PlantedAnomalies, PlantedEffects, registration_rates
from .reference import (
    _ANOMALY_RATE,
    _BURSTS_PER_DAY,
    _DAY,
    _EXACT_REPEAT_RATE,
    _WEEKDAY,
    BROKER_HEADER,
    CLICK_TO_IP_COUNTRY,
    CLICK_TO_RESIDENCY_COUNTRY,
    CONVERSIONS_HEADER,
    COUNTRIES,
    PAGE_CATEGORY_MAPPING,
    TRUTH_HEADER,
)
from .registrations import _registrations_for_day
from .sampling import _concat, _rows, _State, _take
from .writers import _str, _write_broker, _write_conversions

__all__ = [
    "PartnerBehaviour",
    "generate",
    "COUNTRIES",
    "CLICK_TO_IP_COUNTRY",
    "CLICK_TO_RESIDENCY_COUNTRY",
    "PAGE_CATEGORY_MAPPING",
    "CONVERSIONS_HEADER",
    "BROKER_HEADER",
]


def _to_unix(value: str) -> int:
    """Unix seconds of a date/time string; naive means UTC."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int((ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1))


def generate(
    out_dir: Path | str,
    *,
    days: int = 7,
    per_day: int = 1700,
    seed: int = 42,
    start: str = "2024-04-01",
    partner: str = "acme",
    progress: Callable[[int], None] | None = None,
    registration_rate: float = 0.95,
    unexplained_share: float = 0.02,
    partner_from: str | None = None,
    bursts_per_day: float = _BURSTS_PER_DAY,
    anomaly_rate: float = _ANOMALY_RATE,
    partner_behaviour: PartnerBehaviour | None = None,
    planted: PlantedEffects | None = None,
    planted_anomalies: PlantedAnomalies | None = None,
) -> dict:
    """Write a landing folder of ``days`` days of synthetic clicks and one partner's registrations.

    ``partner_behaviour``: how the partner's export departs from the plain one (a fast clock, naive local time,
    exports overlapping the previous day's); truth.csv stays the truth, line by line of what was written.

    ``planted``, ``planted_anomalies``: effects and anomalies the report must find (generate.planted); none by
    default.
    ``registration_rate``: share of (human) clicks after ``partner_from`` that lead to a registration.
    ``partner_from``: when the partner's export starts (a timestamp string, UTC); default: ``start``.
    Registrations after the end of the last day are not exported (the partner's cut-off).
    Returns a summary: files written (relative keys), rows per source, registrations, unexplained ones.
    """
    out = Path(out_dir)
    if days < 1 or per_day < 1:
        raise ValueError("days and per_day must be positive")
    for folder in (out / "conversions", out / "broker" / partner, out / "reference"):
        folder.mkdir(parents=True, exist_ok=True)
    summary = _empty_summary(out, _write_mapping(out))

    t0 = _to_unix(start) // _DAY * _DAY
    p0 = _to_unix(partner_from) if partner_from is not None else t0
    st = _State()
    sid_gap = max(2.0, 100.0 * 1700 / per_day)  # session ids grow ~140k a day at the real volume
    first_partner_file = True
    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as truth:
        truth.write(TRUTH_HEADER + "\n")
        for d in range(days):
            rng = np.random.default_rng([seed, d])
            day_start = t0 + d * _DAY
            clicks = _write_click_day(out, rng, day_start, per_day, st, sid_gap, bursts_per_day, anomaly_rate,
                                      summary, progress, planted, planted_anomalies)
            today = _registrations_of_the_day(rng, clicks, st, day_start, p0,
                                              registration_rates(clicks, registration_rate, planted), unexplained_share,
                                              (partner_behaviour or PartnerBehaviour()).delay_tail_share,
                                              planted_anomalies)
            if day_start + _DAY <= p0:
                continue  # the partner's export has not started yet
            form = _partner_file_form(rng, first_partner_file)
            first_partner_file = False
            _write_partner_day(out, truth, partner, day_start, today, form, summary,
                               partner_behaviour or PartnerBehaviour(), st)
    summary["dropped_after_cutoff"] = _rows(st.carry)
    return summary


def _write_mapping(out: Path) -> str:
    key = "reference/page_category_mapping.csv"
    mapping = "\r\n".join(["page_category;measurement_category"] + [f"{p};{m}" for p, m in PAGE_CATEGORY_MAPPING])
    (out / key).write_bytes(mapping.encode("utf-8"))
    return key


def _empty_summary(out: Path, mapping_key: str) -> dict:
    return {
        "out_dir": str(out),
        "files": {"conversions": 0, "broker": 0, "reference": 1, "truth": 1},
        "file_keys": {"conversions": [], "broker": [], "reference": [mapping_key], "truth": ["truth.csv"]},
        "rows": {"conversions": 0, "broker": 0, "truth": 0},
        "clicks": 0,
        "duplicate_lines": 0,
        "bot_clicks": 0,
        "scanner_clean_clicks": 0,
        "scanner_bursts": 0,
        "registrations": 0,
        "unexplained_registrations": 0,
        "dropped_after_cutoff": 0,
    }


def _write_click_day(out: Path, rng: np.random.Generator, day_start: int, per_day: int, st: _State, sid_gap: float,
                     bursts_per_day: float, anomaly_rate: float, summary: dict,
                     progress: Callable[[int], None] | None, planted: PlantedEffects | None = None,
                     planted_anomalies: PlantedAnomalies | None = None) -> dict:
    """One day's clicks, drawn and written to conversions/conversions_<YYYYMMDD>.csv; counted in the summary."""
    date = pd.Timestamp(day_start, unit="s")
    n_target = int(rng.poisson(per_day * _WEEKDAY[date.weekday()] * rng.lognormal(0.0, 0.08)))
    clicks = _clicks_for_day(rng, day_start, max(n_target, 1), st, sid_gap, bursts_per_day, anomaly_rate, planted,
                             planted_anomalies)
    key = f"conversions/conversions_{date.strftime('%Y%m%d')}.csv"
    lines, dups = _write_conversions(out / key, clicks, date.strftime("%Y-%m-%d"), rng, _EXACT_REPEAT_RATE)
    summary["file_keys"]["conversions"].append(key)
    summary["files"]["conversions"] += 1
    summary["rows"]["conversions"] += lines
    summary["duplicate_lines"] += dups
    summary["bot_clicks"] += int(clicks["bot"].sum())
    # the scanner's clean-looking clicks (no payload appended): what the report's anomaly layer must find
    clean = (clicks["scanner"] & (clicks["ui_element"] == "front-page-visit-broker-button")
             & (clicks["measurement_category"] == "01homepa/02notrel/03notrel"))
    summary["scanner_clean_clicks"] += int(clean.sum())
    seconds = np.sort(clicks["sec"][clicks["scanner"]])  # a burst lasts 150 s; two are hours apart
    summary["scanner_bursts"] += int(len(seconds) > 0) + int((np.diff(seconds) > 300).sum())
    summary["clicks"] += _rows(clicks)
    if progress is not None:
        progress(lines)
    return clicks


def _registrations_of_the_day(rng: np.random.Generator, clicks: dict, st: _State, day_start: int, p0: int,
                              registration_rate: float | np.ndarray, unexplained_share: float,
                              delay_tail_share: float, planted_anomalies: PlantedAnomalies | None = None) -> dict:
    """The day's registrations and those carried from earlier days, in the partner's order; the ones that fall
    after midnight are carried on to the next day's file."""
    regs = _registrations_for_day(rng, clicks, day_start, p0, registration_rate, unexplained_share, delay_tail_share,
                                  planted_anomalies)
    regs = _concat([st.carry, regs])
    later = regs["ts"] >= day_start + _DAY if regs else np.zeros(0, bool)
    st.carry = _take(regs, np.flatnonzero(later)) if later.any() else {}
    today = _take(regs, np.flatnonzero(~later)) if regs else {}
    if not _rows(today):
        return {k: np.zeros(0, np.int64) for k in ("ts", "conversion_id")} | {
            k: np.zeros(0, object) for k in ("residency", "ip", "score")}
    # Partner exports are sorted by time, to the fraction of a second their system logged.
    return _take(today, np.lexsort((today["frac"], today["ts"])))


def _partner_file_form(rng: np.random.Generator, first: bool) -> str:
    """The first partner file has a BOM and CRLF; later ones CRLF (a fifth), CRLF without a final newline (a
    tenth) or LF."""
    if first:
        return "bom-crlf"
    u = rng.random()
    return "crlf" if u < 0.2 else "crlf-noeol" if u < 0.3 else "lf"


def _click_ids(conversion_id: np.ndarray, behaviour: "PartnerBehaviour", day_start: int) -> np.ndarray:
    """The subid column: the click's id for a share of the explained rows, some of them wrong, the rest blank."""
    rng = np.random.default_rng([day_start, 7])
    ids = np.full(len(conversion_id), "", dtype=object)
    carries = (conversion_id >= 0) & (rng.random(len(conversion_id)) < behaviour.click_id_share)
    ids[carries] = conversion_id[carries].astype(str)
    wrong = carries & (rng.random(len(conversion_id)) < behaviour.wrong_click_ids)
    malformed = wrong & (rng.random(len(conversion_id)) < 0.5)
    ids[malformed] = "id-" + conversion_id[malformed].astype(str)
    ids[wrong & ~malformed] = (conversion_id[wrong & ~malformed] + 10**9).astype(str)
    return ids


@dataclass(frozen=True)
class PartnerBehaviour:
    clock_offset_s: int = 0  # the partner's clock runs this much fast (negative: slow)
    time_zone: str | None = None  # writes naive local time of this IANA zone instead of Unix seconds
    overlap_hours: float = 0.0  # each export re-sends the previous export's rows of its last hours
    click_id_share: float = 0.0  # of the rows a click explains, the share that carry its id (a `subid` column)
    wrong_click_ids: float = 0.0  # of those, the share whose id is wrong: half malformed, half no such click
    delay_tail_share: float = 0.0  # of the registrations a click explains, the share 10 s to 5 min after it


def _write_partner_day(out: Path, truth, partner: str, day_start: int, today: dict, form: str, summary: dict,
                       behaviour: PartnerBehaviour, st: _State) -> None:
    """The partner's file of the day and its lines of truth.csv."""
    key = f"broker/{partner}/registrations_{pd.Timestamp(day_start, unit='s').strftime('%Y%m%d')}.csv"
    previous, st.last_export = st.last_export, today
    if behaviour.overlap_hours and _rows(previous):
        resent = np.flatnonzero(previous["ts"] >= day_start - behaviour.overlap_hours * 3600)
        today = _concat([_take(previous, resent), today]) if len(resent) else today
        summary["resent_rows"] = summary.get("resent_rows", 0) + len(resent)
    written = dict(today)
    if _rows(today):
        stamp = today["ts"] + behaviour.clock_offset_s
        if behaviour.time_zone:
            local = pd.to_datetime(stamp, unit="s", utc=True).tz_convert(behaviour.time_zone)
            written["ts"] = np.asarray(local.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)
        else:
            written["ts"] = stamp
    if behaviour.click_id_share:
        written["subid"] = _click_ids(today["conversion_id"], behaviour, day_start)
    _write_broker(out / key, written, form)
    n_today = _rows(today)
    summary["file_keys"]["broker"].append(key)
    summary["files"]["broker"] += 1
    summary["rows"]["broker"] += n_today
    cid = today["conversion_id"]
    cid_str = pc.if_else(pa.array(cid >= 0), _str(cid), "")
    rows = pc.binary_join_element_wise(key, _str(np.arange(2, n_today + 2)), cid_str, ",")
    if n_today:
        truth.write("\n".join(rows.to_pylist()) + "\n")
    summary["rows"]["truth"] += n_today
    summary["registrations"] += n_today
    summary["unexplained_registrations"] += int((cid < 0).sum())
