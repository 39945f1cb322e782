"""Normalizers on the real data's quirks."""

import pandas as pd
import pytest
from bcjourney.normalize import countries, text_policy, timestamps, values


def test_every_country_name_in_both_real_files_resolves(homework):
    conversions = pd.read_csv(homework / "brokerchooser_conversions.csv", sep=";", dtype=str, keep_default_na=False)
    broker = pd.read_csv(homework / "broker_data.csv", dtype=str, keep_default_na=False)
    names = set(conversions["country_name"]) | set(broker["country_residency"]) | set(broker["ip_country"])
    named = {n for n in names if n.strip() not in ("", "-")}
    unresolved = sorted(n for n in named if countries.resolve_country(n) is None)
    assert unresolved == []


@pytest.mark.parametrize("a,b,code", [
    ("United States", "United States of America", "US"),
    ("United Kingdom", "United Kingdom of Great Britain and Northern Ireland", "GB"),
    ("Trinidad & Tobago", "Trinidad and Tobago", "TT"),
    ("South Korea", "Korea (Republic of)", "KR"),
    ("Côte d’Ivoire", "Cote D'ivoire", "CI"),
    ("West Bank", "Gaza Strip", "PS"),
    ("Russia", "Russian Federation", "RU"),
    ("Vietnam", "Viet Nam", "VN"),
    ("Micronesia, Fed. St.", "Micronesia (Federated States of)", "FM"),
    ("St. Vincent & Grenadines", "Saint Vincent and the Grenadines", "VC"),
])
def test_both_naming_schemes_meet(a, b, code):
    assert countries.resolve_country(a) == code
    assert countries.resolve_country(b) == code


def test_blank_and_dash_are_null_and_nonsense_is_unresolved():
    assert countries.resolve_country("") is None
    assert countries.resolve_country("-") is None
    assert countries.resolve_country("Atlantis Kingdom") is None


def test_timestamps_of_every_form_become_the_same_utc_instant():
    raw = pd.Series(["1713716146", "1713716146000", "2024-04-21 16:15:46", "2024-04-21T18:15:46+02:00",
                     "2024-04-21T16:15:46Z"])
    parsed, reason = timestamps.parse_timestamps(raw)
    assert reason.isna().all()
    assert set(parsed) == {pd.Timestamp("2024-04-21 16:15:46")}


def test_implausible_timestamps_are_rejected_with_a_reason():
    now = pd.Timestamp("2024-06-01")
    raw = pd.Series(["1999-12-31 23:59:59", "2024-06-03 00:00:00", "not a time", "", "2024-05-31 10:00:00"])
    _, reason = timestamps.parse_timestamps(raw, now=now)
    assert [r if isinstance(r, str) else None for r in reason] == [
        "timestamp before 2000", "timestamp more than a day in the future",
                               "unparseable timestamp", "missing timestamp", None]


def test_scores_keep_0_to_100_and_null_the_junk():
    score, ok = values.parse_score(pd.Series(["0", "10", "100", "#REF!", "101", "-1", "", "57.0"]))
    assert score.tolist()[:3] == [0, 10, 100]
    assert ok.tolist() == [True, True, True, False, False, False, False, True]
    assert score.isna().tolist() == [False, False, False, True, True, True, True, False]


def test_booleans_in_every_spelling():
    parsed, ok = values.parse_bool(pd.Series(["1", "0", "true", "FALSE", "yes", "no", "maybe"]))
    assert parsed.tolist()[:6] == [True, False, True, False, True, False]
    assert ok.tolist() == [True] * 6 + [False]


def test_injection_payloads_from_the_real_file_are_suspicious(homework):
    conversions = pd.read_csv(homework / "brokerchooser_conversions.csv", sep=";", dtype=str, keep_default_na=False)
    category = conversions["measurement_category"]
    bad = category[~values.is_measurement_category(category)]
    assert 40 <= len(bad) <= 60  # the payloads, 'Peace' and scrambled codes
    assert bad.str.contains("sleep").any()
    # every ui element the policy stops is a payload, and every payload is stopped
    ui = conversions["ui_element"]
    payload = ui.str.contains(r"select|sleep|md5|/\*|'|\"", regex=True)
    stopped = text_policy.text_rules(ui).notna()
    assert stopped.sum() > 30 and (stopped == payload).all()


@pytest.mark.parametrize("name", ["Cote D'ivoire", "Lao People`s Democratic Republic", "Côte d’Ivoire",
                                  "Trinidad & Tobago", "Korea (Republic of)", "Broker reviews - general", "-", "--",
                                  "", "broker-chapter-1/summary", "dynamic score top broker list row", "鎈 Ünïcode",
                                  "$x^$", "100% free"])
def test_real_names_pass_the_text_policy(name):
    assert text_policy.text_rule(name) is None


@pytest.mark.parametrize("hostile,rule", [
    ("<img src=x onerror=alert(1)>", "suspicious_text"), ("</td></tr>", "suspicious_text"),
    ("Germany\"", "suspicious_text"), ("'Germany", "suspicious_text"), ("D'", "suspicious_text"),
    ("x'/**/and/**/sleep(2)", "suspicious_text"), ("=HYPERLINK(\"http://x\")", "suspicious_text"),
    ("-HYPERLINK(1)", "suspicious_text"), ("+1+1", "suspicious_text"), ("@SUM(A1)", "suspicious_text"),
    ("-1", "suspicious_text"), ("＜script＞", "suspicious_text"), ("＝1+1", "suspicious_text"),
    ("Ger\x00many", "suspicious_text"), ("Ger\tmany", "suspicious_text"), ("Ger\x85many", "suspicious_text"),
    ("evil\u202egnp.exe", "suspicious_text"), ("a;b", "suspicious_text"), ("{x}", "suspicious_text"),
    ("Cura\ufffdao", "undecodable"), ("x" * 257, "field_too_long"), ("x" * 256, None),
    ("javascript:alert(1)", "suspicious_text"), ("1 union select 2", "suspicious_text"),
])
def test_hostile_text_breaks_the_policy_with_its_rule(hostile, rule):
    assert text_policy.text_rule(hostile) == rule


@pytest.mark.parametrize("first_label", [0, 100])
def test_each_row_keeps_its_own_time_when_blanks_and_numbers_sit_between_text_forms(first_label):
    # a blank or numeric value before text ones once shifted every later text row onto its neighbour's time
    raw = pd.Series(["2024-04-01 10:00:00", "", "2024-04-01 11:00:00", "1711972800", "2024-04-01 12:00:00",
                     "2024-04-01T15:00:00+02:00", "2024-04-01 14:00:00", "nonsense", "2024-04-01T15:30:00Z"],
                    index=range(first_label, first_label + 9))
    parsed, reason = timestamps.parse_timestamps(raw, now=pd.Timestamp("2024-06-01"))
    assert parsed.index.equals(raw.index)
    expected = ["2024-04-01 10:00:00", None, "2024-04-01 11:00:00", "2024-04-01 12:00:00", "2024-04-01 12:00:00",
                "2024-04-01 13:00:00", "2024-04-01 14:00:00", None, "2024-04-01 15:30:00"]
    assert [None if pd.isna(v) else str(v) for v in parsed] == expected
    assert reason.notna().tolist() == [v is None for v in expected]


@pytest.mark.parametrize("impossible", ["2024-02-30 10:00:00", "2023-02-29 10:00:00", "2024-04-31 10:00:00",
                                        "2024-13-01 10:00:00", "2024-00-10 10:00:00", "2024-04-00 10:00:00",
                                        "2024-04-01 24:00:00", "2024-04-01 10:60:00", "2024-04-01 10:00:61",
                                        "2024-04-01 10:00:60", "2024-02-30T10:00:00Z",
                                        "2024-04-31T10:00:00+02:00", "2024-04-01T10:00:00+25:00"])
def test_impossible_calendar_dates_and_times_are_rejected(impossible):
    parsed, reason = timestamps.parse_timestamps(pd.Series([impossible, "2024-02-29 10:00:00"]),
                                                 now=pd.Timestamp("2024-06-01"))
    assert pd.isna(parsed[0]) and reason[0] == "impossible date or time"
    assert parsed[1] == pd.Timestamp("2024-02-29 10:00:00") and pd.isna(reason[1])


def test_fractions_offsets_and_milliseconds_are_exact():
    raw = pd.Series(["1711965601.5", "1711965601123", "2024-04-01T10:00:00.1239-01:30", "2024-04-01 10:00",
                     "2024-04-01T10:00:00+0200", "2024-04-01T10:00:00-05"])
    parsed, reason = timestamps.parse_timestamps(raw, now=pd.Timestamp("2024-06-01"))
    assert reason.isna().all()
    assert [str(v) for v in parsed] == ["2024-04-01 10:00:01.500000", "2024-04-01 10:00:01.123000",
                                        "2024-04-01 11:30:00.123000", "2024-04-01 10:00:00",
                                        "2024-04-01 08:00:00", "2024-04-01 15:00:00"]
