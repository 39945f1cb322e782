"""Differential, property-based: files whose rows mix every accepted form with blanks, junk and hostile text, in
random order and block sizes, go through `ingest_object`; each curated value must equal what a plain per-row
reference parse (the standard library, one value at a time) makes of that row's raw field, and each row the
reference rejects must be in quarantine with the rule and column the reference names.

The reference is written apart from the production code on purpose: loops and `datetime`, not Arrow and numpy.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

import pandas as pd
from bcjourney.ingest.service import ingest_object
from bcjourney.storage import LocalStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = datetime(2024, 6, 1)
EPOCH = datetime(1970, 1, 1)
CONVERSIONS_HEADER = ["id", "session_id", "country_name", "is_mobile", "ui_element", "created_at",
                      "measurement_category"]
BROKER_HEADER = ["timestamp", "country_residency", "ip_country", "important_score"]

# countries the reference knows the code of (None: blank or not a country); the production code resolves them
# through pycountry, aliases and folding
COUNTRIES = {"Germany": "DE", "germany": "DE", " United States ": "US", "United States of America": "US",
             "Côte d’Ivoire": "CI", "Cote D'ivoire": "CI", "Korea (Republic of)": "KR", "Trinidad & Tobago": "TT",
             "Curaçao": "CW", "Lao People`s Democratic Republic": "LA", "Atlantis Kingdom": None, "": None, "-": None,
             "--": None, "n/a": None, "unknown": None}
BLANK_COUNTRIES = {"", "-", "--", "n/a", "na", "null", "none", "unknown"}
HOSTILE = ["<img src=x onerror=alert(1)>", "</td></tr>", "'Germany", "Germany\\", "-HYPERLINK(1)", "=1+1", "+1",
           "@SUM(A1)", "a{b}", "x'/**/and/**/sleep(2)", "1 union select 2", "Ger\x01many", "Ger\x07many",
           "evil\u202egnp", "Cura\ufffdao", "b" * 300, "＜b＞", "x|y", "javascript:alert(1)", "-1"]
CATEGORIES = ["01bestca/02notrel/03notrel", "01homepa/02notrel/03notrel", " 01review/02notrel/03review ",
              "01BESTCA/02notrel/03notrel", "Peace", "01bestca/02notrel"]
BOOLEANS = ["0", "1", "true", "FALSE", " yes ", "no", "y", "N", "t", "f", "maybe", "", "2"]
SCORES = ["0", "10", "100", " 57 ", "57.0", "101", "-1", "#REF!", "", "1e2", "5.5", "007"]

# free text: letters of several scripts, digits, punctuation the real files carry, white space of several kinds
TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019 -/_.&()'’`é鎈ü\t\u00a0\u3000")), max_size=40)


# ---------------------------------------------------------------------------------------------------------------
# the reference: one raw field at a time


def ref_int(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text and len(text) <= 18 and all(c in "0123456789" for c in text) else None


def ref_bool(raw: str) -> bool | None:
    text = raw.strip().lower()
    return True if text in {"1", "true", "t", "yes", "y"} else False if text in {"0", "false", "f", "no", "n"} \
        else None


def ref_score(raw: str) -> int | None:
    text = raw.strip()
    if not re.fullmatch(r"[0-9]{1,3}(\.0+)?", text):
        return None
    value = int(text.split(".")[0])
    return value if value <= 100 else None


def ref_timestamp(raw: str) -> datetime | None:
    """Naive UTC at millisecond precision (truncated), or None when the value is not an accepted instant."""
    text = raw.strip()
    whole, dot, fraction = text.partition(".")
    if whole and all(c in "0123456789" for c in whole) and len(whole) <= 16 and (
            not dot or (fraction and all(c in "0123456789" for c in fraction))):
        number = int(whole)
        millis = number * 1000 + int((fraction + "000")[:3]) if number < 10**11 else number
        value = EPOCH + timedelta(milliseconds=millis)
    else:
        shape = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?",
                             text, flags=re.ASCII)
        if not shape:
            return None
        date, hour_minute, seconds, fraction, zone = shape.groups()
        seconds = (seconds or ":00").split(".")[0]
        fraction = (fraction or "")[:6]
        zone = zone or "+00:00"
        if zone == "Z":
            zone = "+00:00"
        elif len(zone) == 3:
            zone += ":00"
        elif ":" not in zone:
            zone = zone[:3] + ":" + zone[3:]
        try:
            aware = datetime.fromisoformat(f"{date}T{hour_minute}{seconds}{'.' + fraction if fraction else ''}{zone}")
        except ValueError:
            return None
        value = aware.astimezone(timezone.utc).replace(tzinfo=None)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    if value < datetime(2000, 1, 1) or value > NOW + timedelta(days=1):
        return None
    return value


def ref_text_rule(value: str) -> str | None:
    """The text policy, one character at a time."""
    if all(c == "-" for c in value):
        return None
    if len(value) > 256:
        return "field_too_long"
    folded = unicodedata.normalize("NFKC", value)
    if "\ufffd" in folded:
        return "undecodable"
    invisible = set("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
                    "\u2066\u2067\u2068\u2069\ufeff")
    for i, c in enumerate(folded):
        if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in invisible or c in '<>"\\;{}|':
            return "suspicious_text"
        if c in "'\u2019`\u00b4":
            before, after = folded[i - 1] if i else "", folded[i + 1] if i + 1 < len(folded) else ""
            if not (before.isalpha() and after.isalpha()):
                return "suspicious_text"
    if folded[:1] in ("=", "+", "@", "-"):
        return "suspicious_text"
    lowered = folded.lower()
    if any(f in lowered for f in ("/*", "*/", "--", "sleep(", "waitfor", "select ", "union ", "javascript:")):
        return "suspicious_text"
    return None


def ref_conversion(fields: list[str]):
    """('curated', {column: value}) or ('quarantined', rule, column) for one conversion line."""
    if len(fields) != len(CONVERSIONS_HEADER):
        return ("quarantined", "malformed_line", None)
    raw = dict(zip(CONVERSIONS_HEADER, fields))
    conversion_id = ref_int(raw["id"])
    if conversion_id is None:
        return ("quarantined", "invalid_id", "id")
    converted_at = ref_timestamp(raw["created_at"])
    if converted_at is None:
        return ("quarantined", "invalid_timestamp", "created_at")
    is_mobile = ref_bool(raw["is_mobile"])
    if is_mobile is None:
        return ("quarantined", "invalid_is_mobile", "is_mobile")
    category = raw["measurement_category"].strip()
    rule = ref_text_rule(category)
    if rule or not re.fullmatch(r"01[a-z]{6}/02[a-z]{6}/03[a-z]{6}", category):
        return ("quarantined", rule or "suspicious_text", "measurement_category")
    ui_element = raw["ui_element"].strip()
    if rule := ref_text_rule(ui_element):
        return ("quarantined", rule, "ui_element")
    country = raw["country_name"].strip()
    if rule := ref_text_rule(country):
        return ("quarantined", rule, "country_name")
    blank = country.lower() in BLANK_COUNTRIES
    return ("curated", {"conversion_id": conversion_id, "session_id": ref_int(raw["session_id"]),
                        "is_mobile": is_mobile, "ui_element": ui_element or None, "measurement_category": category,
                        "converted_at": converted_at, "country_name": None if blank else country,
                        "country_code": COUNTRIES.get(raw["country_name"])})


def ref_registration(fields: list[str]):
    if len(fields) != len(BROKER_HEADER):
        return ("quarantined", "malformed_line", None)
    raw = dict(zip(BROKER_HEADER, fields))
    registered_at = ref_timestamp(raw["timestamp"])
    if registered_at is None:
        return ("quarantined", "invalid_timestamp", "timestamp")
    values = {"registered_at": registered_at, "important_score": ref_score(raw["important_score"])}
    for column, prefix in (("country_residency", "residency"), ("ip_country", "ip")):
        name = raw[column].strip()
        if rule := ref_text_rule(name):
            return ("quarantined", rule, column)
        values[f"{prefix}_country_name"] = None if name.lower() in BLANK_COUNTRIES else name
        values[f"{prefix}_country_code"] = COUNTRIES.get(raw[column])
    return ("curated", values)


# ---------------------------------------------------------------------------------------------------------------
# what the files are made of


@st.composite
def timestamps(draw) -> str:
    kind = draw(st.sampled_from(["calendar", "calendar", "epoch", "impossible", "junk"]))
    pad = draw(st.sampled_from(["", "", " ", "\t"]))
    if kind == "junk":
        return pad + draw(st.sampled_from(["", "not a time", "2024-04-01", "#REF!", "2024-4-1 10:00:00",
                                           "2024-04-01 10:00:00 +02:00", "1e9", "12.", "１７１１９６５６０１"])) + pad
    if kind == "impossible":
        y, mo, d, h, mi, s = (draw(st.integers(a, b)) for a, b in ((2023, 2024), (0, 13), (0, 31), (0, 24),
                                                                   (0, 60), (0, 61)))
        return f"{pad}{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}{pad}"
    instant = draw(st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2024, 6, 3)))
    if kind == "epoch":
        seconds = int((instant - EPOCH).total_seconds())
        form = draw(st.sampled_from(["s", "ms", "frac"]))
        if form == "ms":
            return f"{pad}{seconds * 1000 + instant.microsecond // 1000}{pad}"
        fraction = "." + str(instant.microsecond).rjust(6, "0")[:draw(st.integers(1, 6))] if form == "frac" else ""
        return f"{pad}{seconds}{fraction}{pad}"
    separator = draw(st.sampled_from([" ", "T"]))
    text = instant.strftime(f"%Y-%m-%d{separator}%H:%M")
    if draw(st.booleans()):
        text += instant.strftime(":%S")
        if draw(st.booleans()):
            text += "." + (str(instant.microsecond).rjust(6, "0") + "987")[:draw(st.integers(1, 9))]
    zone = draw(st.sampled_from(["", "", "Z", "+02:00", "-05:30", "+0100", "-03", "+14:00"]))
    return pad + text + zone + pad


def ids(i: int):
    return st.sampled_from([f"{1000 + i}", f" {1000 + i} ", f"{1000 + i}", "x", "-1", "1.0", "", "1" * 19,
                            "１２"])


text_values = st.one_of(TEXT, st.sampled_from(HOSTILE))


@st.composite
def conversion_line(draw, i: int) -> list[str]:
    fields = [draw(ids(i)), draw(st.one_of(ids(i), st.just("abc"))),
              draw(st.one_of(st.sampled_from(list(COUNTRIES)), st.sampled_from(HOSTILE))),
              draw(st.sampled_from(BOOLEANS)), draw(text_values), draw(timestamps()),
              draw(st.one_of(st.sampled_from(CATEGORIES), text_values))]
    if draw(st.integers(0, 30)) == 0:  # now and then a line that lost or gained a field
        fields = fields[:-1] if draw(st.booleans()) else fields + ["extra"]
    return fields


@st.composite
def registration_line(draw) -> list[str]:
    fields = [draw(timestamps()), draw(st.one_of(st.sampled_from(list(COUNTRIES)), st.sampled_from(HOSTILE))),
              draw(st.one_of(st.sampled_from(list(COUNTRIES)), st.sampled_from(HOSTILE))),
              draw(st.sampled_from(SCORES))]
    if draw(st.integers(0, 30)) == 0:
        fields = fields[:-1]
    return fields


@st.composite
def landing_file(draw, line_strategy, header: list[str], delimiter: str):
    count = draw(st.integers(1, 60))
    lines = [draw(line_strategy(i)) if line_strategy is conversion_line else draw(line_strategy())
             for i in range(count)]
    blanks = draw(st.lists(st.integers(0, count), max_size=4))  # blank lines before these data lines
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return lines, set(blanks), newline, draw(st.sampled_from([64, 97, 256, 1024, 1 << 20]))


def write_and_ingest(root, key: str, header: list[str], delimiter: str, lines, blanks, newline, block_bytes):
    body, numbers, number = [delimiter.join(header)], [], 1
    for i, fields in enumerate(lines):
        if i in blanks:
            body.append("")
            number += 1
        body.append(delimiter.join(fields))
        number += 1
        numbers.append(number)
    path = root / "landing" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(body) + newline).encode())
    lake = LocalStorage(root / "lake")
    result = ingest_object(LocalStorage(root / "landing"), key, lake, now=pd.Timestamp(NOW), block_bytes=block_bytes)
    return result, lake, numbers


def lake_rows(lake: LocalStorage, prefix: str) -> dict[int, dict]:
    keys = [k for k in lake.list_keys(prefix) if k.endswith(".parquet")]
    if not keys:
        return {}
    frame = pd.concat([pd.read_parquet(lake.root / k) for k in keys], ignore_index=True)
    return {int(row["source_line"]): row for row in frame.to_dict("records")}


def plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def assert_row_by_row(lines, numbers, reference, curated, quarantined):
    assert set(curated) | set(quarantined) == set(numbers) and not set(curated) & set(quarantined)
    for fields, number in zip(lines, numbers):
        expected = reference(fields)
        if expected[0] == "curated":
            assert number in curated, (fields, quarantined.get(number))
            got = {column: plain(curated[number][column]) for column in expected[1]}
            assert got == expected[1], fields
        else:
            assert number in quarantined, (fields, expected)
            row = quarantined[number]
            assert (row["rule"], plain(row["column_name"])) == expected[1:], fields


SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@SETTINGS
@given(case=landing_file(conversion_line, CONVERSIONS_HEADER, ";"))
def test_every_curated_conversion_value_is_what_its_raw_row_says(tmp_path_factory, case):
    root = tmp_path_factory.mktemp("conversions")
    result, lake, numbers = write_and_ingest(root, "conversions/c.csv", CONVERSIONS_HEADER, ";", *case)
    report = result.report
    assert report.rows_in == len(numbers) == report.curated + report.quarantined  # ids are unique here
    assert report.blank_lines == len(case[1] & set(range(len(case[0]))))
    assert_row_by_row(case[0], numbers, ref_conversion, lake_rows(lake, "curated/"), lake_rows(lake, "quarantine/"))


@SETTINGS
@given(case=landing_file(registration_line, BROKER_HEADER, ","))
def test_every_curated_registration_value_is_what_its_raw_row_says(tmp_path_factory, case):
    root = tmp_path_factory.mktemp("registrations")
    result, lake, numbers = write_and_ingest(root, "broker/acme/r.csv", BROKER_HEADER, ",", *case)
    assert result.report.rows_in == len(numbers) == result.report.curated + result.report.quarantined
    assert_row_by_row(case[0], numbers, ref_registration, lake_rows(lake, "curated/"),
                      lake_rows(lake, "quarantine/"))
