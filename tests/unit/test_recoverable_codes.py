"""A page code with a URL parameter glued on is kept as its code (flagged), everything else that is not a page code
stays quarantined: payloads above all, and codes followed by anything but one plain parameter."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from bcjourney.ingest.conversions import normalize_conversions
from bcjourney.ingest.service import ingest_object
from bcjourney.normalize import text_policy, values
from bcjourney.storage import LocalStorage
from bcjourney_tools.generate.reference import _SQLI_SUFFIXES, _SQLI_WHOLE
from helpers import write_landing
from hypothesis import given, settings
from hypothesis import strategies as st

CODE = "01homepa/02notrel/03notrel"
SHAPE = re.compile(values.MEASUREMENT_CATEGORY_SHAPE)

# the real file's three (brokerchooser_conversions.csv lines 36590, 100471, 100513; their ui_element is blank)
REAL_RECOVERABLE = {
    "01bestca/02notrel/03online&measurementlist=dynamic score top broker list row":
        ("01bestca/02notrel/03online", "dynamic score top broker list row"),
    "01review/02notrel/03notrelmeasurementList=desktop-top5-box": ("01review/02notrel/03notrel", "desktop-top5-box"),
    "01review/02notrel/03notrelmeasurementList=mobile-chapter-2-top5-box":
        ("01review/02notrel/03notrel", "mobile-chapter-2-top5-box"),
}

SQLI = [t.format(s=2, n=1234567890, c="g") for t in _SQLI_SUFFIXES]
HOSTILE_SUFFIXES = SQLI + [
    "'", "\"", "'--", "--", "/**/", "&x=1 or 1=1", "&x=1 and sleep(2)", "&x=1 union select 2", "&x=a--",
    "&measurementlist=1 AND 1=1", "&measurementlist=a' or 'a'='a", "&measurementlist=<script>alert(1)</script>",
    "&measurementlist=javascript:alert(1)", "&measurementlist=-1", "&measurementlist=@SUM(A1)",
    "&measurementlist==1+1", "&measurementlist=+1", "&measurementlist=x;drop table t", "&measurementlist=a{b}",
    "&measurementlist=x|y", "&measurementlist=evil\u202egnp", "&measurementlist=a\x00b", "&measurementlist=a\nb",
    "&measurementlist=a%27b", "&measurementlist=a*b", "&measurementlist=sleep(2)", "&measurementlist=waitfor delay",
    "&measurementlist=x&y=2", "&measurementlist=a=b", "&or=1", "&select=1", "&1x=2", "&=x", "& x=1", "&x =1",
    ";x=1", "?x=1", "&x", "x", "abc", "/04abcdef", "01homepa/02notrel/03notrel", " &x=1", "\u00a0&x=1",
    "＆x=1", "&ｘ=1", "&x=１", "&measurementlist=" + "a" * 200, "&" + "n" * 70 + "=1", "&measurementlist=鎈",
]


@pytest.mark.parametrize("raw", list(REAL_RECOVERABLE))
def test_the_real_files_glued_measurement_lists_recover_to_their_code_and_element(raw):
    assert values.recover_measurement_category(raw) == REAL_RECOVERABLE[raw]


@pytest.mark.parametrize("raw, code, ui", [
    (CODE + "&measurementlist=broker-chapter-1/summary", CODE, "broker-chapter-1/summary"),
    (CODE + "&MeasurementList=x.y_z", CODE, "x.y_z"),
    (CODE + "&measurementlist=", CODE, None),  # the code is clear, the element was empty
    (CODE + "&utm_source=newsletter", CODE, None),  # another parameter: the code, no element
    (CODE + "gclid=abc123", CODE, None),
])
def test_one_plain_parameter_after_a_code_is_recovered(raw, code, ui):
    assert values.recover_measurement_category(raw) == (code, ui)


@pytest.mark.parametrize("suffix", HOSTILE_SUFFIXES)
def test_a_code_followed_by_a_payload_or_anything_but_one_plain_parameter_is_not_recovered(suffix):
    assert values.recover_measurement_category(CODE + suffix) is None


@pytest.mark.parametrize("raw", [CODE, "01zzzzzz/02notrel/03notrel", "Peace", "34dbgfzf/35abgefy/36abgefy", "",
                                 "01BESTCA/02notrel/03notrel&x=1", "01bestca/02notrel&x=1",
                                 "x01homepa/02notrel/03notrel&x=1"]
                         + [t.format(s=0, n=1, c="a") for t in _SQLI_WHOLE])
def test_no_page_code_at_the_start_nothing_to_recover(raw):
    assert values.recover_measurement_category(raw) is None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ09 &=_-./'\"*;:()<>|{}\\+@%#\x00\n\t\u202e\u00a0＆＝鎈")),
               max_size=60))
def test_whatever_is_recovered_passes_the_text_policy(suffix):
    raw = CODE + suffix
    got = values.recover_measurement_category(raw)
    if got is not None:
        code, ui = got
        assert code == CODE and SHAPE.fullmatch(code)
        assert text_policy.text_rule(raw) is None
        assert ui is None or (text_policy.text_rule(ui) is None and raw.endswith("=" + ui))


def test_the_series_form_judges_each_distinct_value_once_and_keeps_the_rest():
    raw = pd.Series([CODE, CODE + "&measurementlist=desktop-top5-box", CODE + "'", None,
                     CODE + "&measurementlist=desktop-top5-box", CODE + "&x=1"], index=[10, 11, 12, 13, 14, 15])
    category, recovered, ui = values.recover_measurement_categories(raw.fillna(""))
    assert category.tolist() == [CODE, CODE, CODE + "'", "", CODE, CODE]
    assert recovered.tolist() == [False, True, False, False, True, True]
    assert ui.isna().tolist() == [True, False, True, True, False, True]
    assert ui[11] == ui[14] == "desktop-top5-box"
    assert list(category.index) == list(recovered.index) == list(ui.index) == list(raw.index)
    plain = pd.Series([CODE, "Peace"])
    category, recovered, ui = values.recover_measurement_categories(plain)
    assert category.tolist() == [CODE, "Peace"] and not recovered.any() and ui.isna().all()


def _frame(categories: list[str], ui: list[str] | None = None) -> pd.DataFrame:
    n = len(categories)
    return pd.DataFrame({"id": [str(i + 1) for i in range(n)], "session_id": [str(100 + i) for i in range(n)],
                         "country_name": ["Germany"] * n, "is_mobile": ["0"] * n,
                         "ui_element": ui if ui is not None else [""] * n,
                         "created_at": ["2024-04-01 10:00:00"] * n, "measurement_category": categories})


def test_normalize_keeps_the_code_flags_it_and_fills_the_lost_element_only():
    frame = _frame([CODE + "&measurementlist=desktop-top5-box", CODE + "measurementList=mobile-top5-box",
                    CODE + "&measurementlist=other-box", CODE + "&utm_source=x", CODE],
                   ui=["", "", "kept-box", "", ""])
    curated, verdicts = normalize_conversions(frame, now=pd.Timestamp("2024-06-01"))
    assert verdicts.accepted.all()
    assert curated["measurement_category"].tolist() == [CODE] * 5
    # the element's own field wins where it has one; a blank one takes the glued-on list
    assert curated["ui_element"].tolist()[:3] == ["desktop-top5-box", "mobile-top5-box", "kept-box"]
    assert curated["ui_element"].isna().tolist()[3:] == [True, True]
    flags = verdicts.flag_text(verdicts.accepted)
    assert flags.tolist() == ["measurement_category_recovered,ui_element_recovered"] * 2 + [
        "measurement_category_recovered"] * 2 + [None]
    assert verdicts.flag_counts(verdicts.accepted) == {"measurement_category_recovered": 4,
                                                        "ui_element_recovered": 2}


@pytest.mark.parametrize("suffix", SQLI + ["&x=1 or 1=1", "&measurementlist=a' or 'a'='a", "/04abcdef", "&x=a--"])
def test_normalize_quarantines_a_code_followed_by_a_payload(suffix):
    frame = _frame([CODE + suffix, CODE])
    curated, verdicts = normalize_conversions(frame, now=pd.Timestamp("2024-06-01"))
    rejected = verdicts.rejections()
    assert rejected["position"].tolist() == [0]
    assert rejected["column"].tolist() == ["measurement_category"]
    assert rejected["rule"].iloc[0] in {text_policy.SUSPICIOUS, text_policy.UNDECODABLE}
    assert verdicts.flag_counts(verdicts.accepted) == {}


def test_a_hostile_ui_element_is_not_laundered_by_a_recovered_category():
    frame = _frame([CODE + "&measurementlist=desktop-top5-box"], ui=["x'and(select+sleep(2))='"])
    _, verdicts = normalize_conversions(frame, now=pd.Timestamp("2024-06-01"))
    assert verdicts.rejections()[["rule", "column"]].values.tolist() == [["suspicious_text", "ui_element"]]


def test_ingest_counts_the_recoveries_in_the_quality_report(tmp_path):
    header = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n"
    body = (f"1;10;Germany;0;;2024-04-01 10:00:00;{CODE}&measurementlist=desktop-top5-box\n"
            f"2;11;Germany;0;broker-name-link;2024-04-01 10:00:01;{CODE}\n"
            f"3;12;Germany;0;;2024-04-01 10:00:02;{CODE}'and(select+1)>0waitfor/**/delay'0:0:2\n"
            f"4;13;Germany;0;;2024-04-01 10:00:03;{CODE}'\n")
    landing = write_landing(tmp_path / "landing", {"conversions/c.csv": header + body})
    lake = LocalStorage(tmp_path / "lake")
    report = ingest_object(LocalStorage(landing), "conversions/c.csv", lake).report
    assert (report.curated, report.quarantined) == (2, 2)
    assert report.flags == {"measurement_category_recovered": 1, "ui_element_recovered": 1}
    curated = pd.concat(pd.read_parquet(lake.root / k) for k in lake.list_keys("curated/conversions/")
                        if k.endswith(".parquet")).set_index("conversion_id")
    assert curated.loc[1, "measurement_category"] == CODE and curated.loc[1, "ui_element"] == "desktop-top5-box"
    quarantine = pd.concat(pd.read_parquet(lake.root / k) for k in lake.list_keys("quarantine/")
                           if k.endswith(".parquet"))
    assert sorted(quarantine["source_line"]) == [4, 5]
    assert set(quarantine["column_name"]) == {"measurement_category"}
    assert any("waitfor" in v for v in quarantine["value"])  # the raw value, as sent


def test_on_the_real_file_only_the_three_glued_lists_are_recovered(homework):
    conversions = pd.read_csv(homework / "brokerchooser_conversions.csv", sep=";", dtype=str, keep_default_na=False)
    curated, verdicts = normalize_conversions(conversions, now=pd.Timestamp("2024-06-03"))
    raw = conversions["measurement_category"].str.strip()
    bad_shape = ~raw.str.fullmatch(values.MEASUREMENT_CATEGORY_SHAPE)
    recovered = raw[bad_shape & verdicts.accepted]
    assert dict(zip(recovered, curated.loc[recovered.index, "measurement_category"])) == {
        k: v[0] for k, v in REAL_RECOVERABLE.items()}
    assert curated.loc[recovered.index, "ui_element"].tolist() == [REAL_RECOVERABLE[r][1] for r in recovered]
    assert verdicts.flag_counts(verdicts.accepted)["measurement_category_recovered"] == 3
    # every other value that is not a page code stays quarantined: the payloads (all of them), 'Peace', scrambled
    rejected = set(verdicts.rejections()["position"])
    still_bad = [i for i in range(len(raw)) if bad_shape.iloc[i] and raw.index[i] not in recovered.index]
    assert len(still_bad) == int(bad_shape.sum()) - 3 and all(i in rejected for i in still_bad)
    payloads = raw[raw.str.contains(r"select|sleep|md5|/\*|'|\"|extractvalue|DBMS_PIPE", regex=True)]
    assert len(payloads) > 30 and not (payloads.index.isin(recovered.index)).any()
