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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "generate",
    "COUNTRIES",
    "CLICK_TO_IP_COUNTRY",
    "CLICK_TO_RESIDENCY_COUNTRY",
    "PAGE_CATEGORY_MAPPING",
    "CONVERSIONS_HEADER",
    "BROKER_HEADER",
]

CONVERSIONS_HEADER = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category"
BROKER_HEADER = "timestamp,country_residency,ip_country,important_score"
TRUTH_HEADER = "broker_source_file,broker_source_line,conversion_id"

# --------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------

PAGE_CATEGORY_MAPPING: tuple[tuple[str, str], ...] = (
    ("Home page", "01homepa/02notrel/03notrel"),
    ("Broker reviews - general", "01review/02notrel/03review"),
    ("Broker reviews - silo", "01review/02notrel/03notrel"),
    ("Broker review - scaled fees", "01review/02notrel/03feeees"),
    ("Broker review - scaled deposits", "01review/02notrel/03deposi"),
    ("Broker review - scaled alternatives", "01review/02notrel/03altbro"),
    ("Broker review - scaled account opening", "01review/02notrel/03openac"),
    ("Broker review - scaled app", "01review/02notrel/03traapp"),
    ("Broker review - scaled customer service", "01review/02notrel/03custsv"),
    ("Broker review - scaled legit", "01review/02notrel/03safety"),
    ("Broker review - scaled free", "01review/02notrel/03isfree"),
    ("Broker review - scaled good for beginners", "01review/02notrel/03beginn"),
    ("Broker review - scaled silver", "01review/02notrel/03silver"),
    ("Broker review - scaled option", "01review/02notrel/03option"),
    ("Broker review - scaled withdraw from broker", "01review/02notrel/03withdr"),
    ("Broker review - scaled minimum balance", "01review/02notrel/03minbal"),
    ("Broker review - scaled commission", "01review/02notrel/03comfee"),
    ("Broker review - scaled stocks", "01review/02notrel/03stonxx"),
    ("Broker review - scaled beginner review", "01review/02notrel/03beginr"),
    ("Best brokers - general", "01bestca/02notrel/03notrel"),
    ("Best brokers - forex beginners", "01bestca/02forexx/03beginn"),
    ("Best brokers - forex general", "01bestca/02forexx/03notrel"),
    ("Best brokers - beginners", "01bestca/02notrel/03beginn"),
    ("Best brokers - cfd", "01bestca/02notrel/03cfdbro"),
    ("Best brokers - discount", "01bestca/02notrel/03discou"),
    ("Best brokers - citizen", "01bestca/02notrel/03online"),
    ("Education", "01educat/02notrel/03notrel"),
    ("How to buy shares", "01educat/02stocks/03buysto"),
    ("How to buy IPO", "01educat/02stocks/03buyipo"),
    ("Comparison table", "01compar/02notrel/03notrel"),
    ("Top2 pages", "01compar/02brvsbr/03notrel"),
    ("Find my broker", "01fmybro/02notrel/03notrel"),
    ("MFSTQ", "01mfstqa/02notrel/03notrel"),
    ("Investment goals", "01invgoa/02notrel/03notrel"),
    ("Scam shield", "01scashi/02notrel/03notrel"),
    ("Country pages", "01counpg/02notrel/03notrel"),
    ("Not categorized", "01cateme/02notrel/03notrel"),
    ("Abouts - team", "01abouts/02teamus/03notrel"),
    ("Abouts - blog", "01abouts/02blogus/03notrel"),
    ("Careers", "01techni/02notrel/03notrel"),
)

# Click share of each country (Google naming, as the click tracker writes it), per 100k clicks.
# 'West Bank' stands for Palestine: each such click is written twice, as 'West Bank' and 'Gaza Strip'.
_CLICK_WEIGHTS: dict[str, float] = {
    "United States": 11000, "United Kingdom": 5900, "Germany": 5200, "India": 4100,
    "Netherlands": 3300, "Canada": 3000, "France": 2900, "Spain": 2800, "Poland": 2500,
    "Belgium": 2200, "Australia": 2100, "Italy": 2100, "South Africa": 2000, "Turkey": 1800,
    "Portugal": 1700, "Singapore": 1700, "Philippines": 1600, "Pakistan": 1500,
    "United Arab Emirates": 1300, "Malaysia": 1300, "Algeria": 1100, "Hungary": 1100,
    "Czech Republic": 1100, "Switzerland": 1000, "Ghana": 1000, "Greece": 980, "Indonesia": 980,
    "Romania": 970, "Morocco": 940, "Japan": 920, "Mexico": 880, "Bangladesh": 850, "Brazil": 840,
    "Ireland": 840, "Sweden": 820, "Saudi Arabia": 780, "Serbia": 760, "Austria": 730,
    "Israel": 670, "Venezuela": 660, "Colombia": 660, "Kenya": 640, "Lithuania": 590,
    "Thailand": 570, "Egypt": 530, "Norway": 520, "Bulgaria": 510, "Denmark": 510,
    "Argentina": 490, "Slovakia": 480, "New Zealand": 460, "Vietnam": 460, "Croatia": 450,
    "Hong Kong": 450, "Ukraine": 430, "Slovenia": 410, "South Korea": 400, "Qatar": 390,
    "Finland": 390, "Cameroon": 340, "Cyprus": 320, "Puerto Rico": 300, "Luxembourg": 300,
    "Peru": 290, "Uganda": 260, "Sri Lanka": 240, "Chile": 230, "Lebanon": 230,
    "Uzbekistan": 230, "Nepal": 210, "Taiwan": 210, "Papua New Guinea": 210, "Estonia": 210,
    "Mauritius": 210, "Trinidad & Tobago": 210, "Costa Rica": 210, "Kuwait": 200,
    "Bosnia & Herzegovina": 200, "Latvia": 200, "Ethiopia": 200, "Ecuador": 200,
    "Dominican Republic": 200, "Moldova": 200, "Côte d’Ivoire": 190, "Oman": 180, "Panama": 180,
    "Cambodia": 180, "Tunisia": 180, "Jamaica": 170, "Zambia": 170, "Kazakhstan": 170,
    "Tanzania": 170, "Jordan": 160, "Albania": 160, "Malta": 160, "Azerbaijan": 150,
    "Guatemala": 150, "Bahrain": 140, "Namibia": 130, "China": 130, "Macedonia": 130,
    "Madagascar": 120, "Georgia": 120, "El Salvador": 120, "Benin": 110, "Paraguay": 110,
    "Mozambique": 100, "Nicaragua": 100, "Botswana": 100, "Uruguay": 100, "Bolivia": 77,
    "West Bank": 74, "Nigeria": 67, "Laos": 54, "Iran": 50, "Swaziland": 45, "Reunion": 41,
    "Brunei": 30, "Russia": 25, "St. Lucia": 23, "Macau": 15, "Antigua & Barbuda": 15,
    "Syria": 12, "St. Kitts & Nevis": 12, "Cape Verde": 9, "Turks & Caicos Islands": 8,
    "British Virgin Islands": 8, "Myanmar (Burma)": 7, "St. Vincent & Grenadines": 7,
    "Caribbean Netherlands": 6, "Micronesia, Fed. St.": 5, "Republic of the Congo": 5,
    "Democratic Republic of the Congo": 4, "Timor-Leste": 4, "U.S. Virgin Islands": 2,
    "Sao Tome & Principe": 2,
}

# The partner's ip_country (ISO/UN scheme) where it differs from the click tracker's name.
_IP_NAME: dict[str, str] = {
    "United States": "United States of America",
    "United Kingdom": "United Kingdom of Great Britain and Northern Ireland",
    "Czech Republic": "Czechia",
    "Venezuela": "Venezuela (Bolivarian Republic of)",
    "Vietnam": "Viet Nam",
    "South Korea": "Korea (Republic of)",
    "Taiwan": "Taiwan (Province of China)",
    "Trinidad & Tobago": "Trinidad and Tobago",
    "Bosnia & Herzegovina": "Bosnia and Herzegovina",
    "Moldova": "Moldova (Republic of)",
    "Côte d’Ivoire": "Cote D'ivoire",
    "Macedonia": "North Macedonia",
    "Bolivia": "Bolivia (Plurinational State of)",
    "West Bank": "Palestine",
    "Laos": "Lao People's Democratic Republic",
    "Iran": "Iran (Islamic Republic of)",
    "Swaziland": "Eswatini",
    "Reunion": "Réunion",
    "Brunei": "Brunei Darussalam",
    "Russia": "Russian Federation",
    "St. Lucia": "Saint Lucia",
    "Macau": "Macao",
    "Antigua & Barbuda": "Antigua and Barbuda",
    "Syria": "Syrian Arab Republic",
    "St. Kitts & Nevis": "Saint Kitts and Nevis",
    "Cape Verde": "Cabo Verde",
    "Turks & Caicos Islands": "Turks and Caicos Islands",
    "British Virgin Islands": "Virgin Islands (British)",
    "Myanmar (Burma)": "Myanmar",
    "St. Vincent & Grenadines": "Saint Vincent and The Grenadines",
    "Caribbean Netherlands": "Bonaire, Sint Eustatius and Saba",  # written unquoted, as the partner does
    "Micronesia, Fed. St.": "Micronesia (Federated States of)",
    "Republic of the Congo": "Congo",
    "Democratic Republic of the Congo": "Congo (Democratic Republic of the)",
    "U.S. Virgin Islands": "Virgin Islands (U.S.)",
    "Sao Tome & Principe": "Sao Tome and Principe",
}

# The partner's country_residency uses yet another scheme (short English names, a few long forms).
_RESIDENCY_NAME: dict[str, str] = {
    "Czech Republic": "Czech Republic",
    "Hong Kong": "Hong Kong Special Administrative Region of China",
    "Côte d’Ivoire": "Cote d'Ivoire",
    "Tanzania": "United Republic of Tanzania",
    "Moldova": "Republic of Moldova",
    "Taiwan": "Taiwan (Republic of China)",
    "West Bank": "Occupied Palestinian Territory",
    "Laos": "Lao People`s Democratic Republic",
    "Macau": "Macao Special Administrative Region of China",
    "South Korea": "Republic of Korea",
    "Cape Verde": "Cape Verde",
    "Caribbean Netherlands": "Bonaire",
    "Vietnam": "Viet Nam",
    "Trinidad & Tobago": "Trinidad and Tobago",
    "Bosnia & Herzegovina": "Bosnia and Herzegovina",
    "Macedonia": "North Macedonia",
    "Swaziland": "Eswatini",
    "Brunei": "Brunei Darussalam",
    "Russia": "Russian Federation",
    "St. Lucia": "Saint Lucia",
    "Antigua & Barbuda": "Antigua and Barbuda",
    "Syria": "Syrian Arab Republic",
    "St. Kitts & Nevis": "Saint Kitts and Nevis",
    "Turks & Caicos Islands": "Turks and Caicos Islands",
    "Myanmar (Burma)": "Myanmar",
    "St. Vincent & Grenadines": "Saint Vincent and the Grenadines",
    "Micronesia, Fed. St.": "Micronesia (Federated States of)",
    "Republic of the Congo": "Congo",
    "Democratic Republic of the Congo": "Congo (Democratic Republic of the)",
    "U.S. Virgin Islands": "Virgin Islands (U.S.)",
    "Sao Tome & Principe": "Sao Tome and Principe",
    "Timor-Leste": "East Timor",
    "Iran": "Iran (Islamic Republic of)",
}

#: (click name, ip_country name, residency name, click weight) for every generated country.
COUNTRIES: tuple[tuple[str, str, str, float], ...] = tuple(
    (name, _IP_NAME.get(name, name), _RESIDENCY_NAME.get(name, name), float(w))
    for name, w in _CLICK_WEIGHTS.items()
)
#: Click-tracker name -> partner ip_country name ('Gaza Strip' is the duplicate line of 'West Bank').
CLICK_TO_IP_COUNTRY: dict[str, str] = {c: ip for c, ip, _, _ in COUNTRIES} | {"Gaza Strip": "Palestine"}
#: Click-tracker name -> partner country_residency name.
CLICK_TO_RESIDENCY_COUNTRY: dict[str, str] = {c: r for c, _, r, _ in COUNTRIES} | {
    "Gaza Strip": "Occupied Palestinian Territory"
}

# UI element, weight per 100k clicks, mobile share, page codes seen with it (% of its clicks). The
# remainder of a row's percentages is drawn from _OTHER_CATEGORIES.
_UI: tuple[tuple[str, float, float, tuple[tuple[str, float], ...]], ...] = (
    ("dynamic score top broker list row", 35000, 0.57, (("01bestca/02notrel/03notrel", 34), ("01bestca/02notrel/03online", 33), ("01counpg/02notrel/03notrel", 28))),
    ("mobile-chapter-2-top5-box", 14000, 0.96, (("01safety/02isscam/03notrel", 43), ("01review/02notrel/03review", 16), ("01review/02notrel/03notrel", 8.4), ("01cateme/02notrel/03notrel", 6.8), ("01counpg/02notrel/03notrel", 5.9), ("01educat/02stocks/03buysto", 5.1), ("01safety/02issafe/03notrel", 1.8))),
    ("fmb broker list item link", 14000, 0.62, (("01fmybro/02notrel/03notrel", 100),)),
    ("desktop-top5-box", 7500, 0.02, (("01review/02notrel/03review", 31), ("01safety/02isscam/03notrel", 20), ("01review/02notrel/03notrel", 11), ("01cateme/02notrel/03notrel", 11), ("01bestca/02notrel/03notrel", 5.1), ("01review/02notrel/03feeees", 4.1), ("01bestca/02notrel/03online", 3.6), ("01safety/02issafe/03notrel", 1.5))),
    ("broker-name-link", 7500, 0.31, (("01bestca/02notrel/03notrel", 34), ("01bestca/02notrel/03online", 29), ("01counpg/02notrel/03notrel", 23), ("01educat/02stocks/03buysto", 5.3), ("01cateme/02notrel/03notrel", 3.7))),
    ("interactive-param-table-name-link", 3000, 0.36, (("01counpg/02notrel/03notrel", 30), ("01bestca/02notrel/03notrel", 24), ("01bestca/02notrel/03online", 24), ("01review/02notrel/03review", 6.5), ("01educat/02stocks/03buysto", 5.5))),
    ("popularity-box-whole-row-link", 2700, 0.33, (("01bestca/02notrel/03notrel", 38), ("01bestca/02notrel/03online", 28), ("01counpg/02notrel/03notrel", 22), ("01bestca/02forexx/03notrel", 3.7), ("01cateme/02notrel/03notrel", 3.2), ("01review/02notrel/03altbro", 3.2))),
    ("cb broker cards visit broker button", 1300, 0.43, (("01compar/02notrel/03notrel", 100),)),
    ("mobile-chapter-6-top5-box", 1100, 0.90, (("01review/02notrel/03review", 63), ("01educat/02stocks/03buysto", 7.1), ("01counpg/02notrel/03notrel", 6.2), ("01review/02notrel/03deposi", 6.0), ("01review/02notrel/03notrel", 4.3), ("01review/02notrel/03openac", 3.3), ("01cateme/02notrel/03notrel", 3.1))),
    ("geo-alternatives-button", 1000, 0.57, (("01cateme/02notrel/03notrel", 100),)),
    ("broker-listpage-visit-broker-button", 1000, 0.46, (("01review/02notrel/03notrel", 100),)),
    ("top2-top-5-box-visit-broker-link-desktop", 990, 0.02, (("01compar/02brvsbr/03notrel", 88), ("01cateme/02notrel/03notrel", 12))),
    ("top2-top-5-box-visit-broker-link-mobile", 940, 0.95, (("01compar/02brvsbr/03notrel", 87), ("01cateme/02notrel/03notrel", 13))),
    ("front-page-visit-broker-button", 890, 0.38, (("01homepa/02notrel/03notrel", 100),)),
    ("bottom-ribbon", 830, 0.60, (("01review/02notrel/03review", 31), ("01review/02notrel/03notrel", 18), ("01compar/02brvsbr/03notrel", 15), ("01cateme/02notrel/03notrel", 9.9), ("01review/02notrel/03withdr", 5.2), ("01review/02notrel/03deposi", 4.6), ("01review/02notrel/03feeees", 4.5), ("01review/02notrel/03openac", 3.6))),
    ("broker-listpage-visit-broker-button-name-link", 680, 0.27, (("01review/02notrel/03notrel", 100),)),
    ("best-broker-awards", 560, 0.46, (("01bestca/02notrel/03notrel", 100),)),
    ("broker-chapter-1/summary", 560, 0.37, (("01bestca/02notrel/03online", 53), ("01bestca/02notrel/03notrel", 42))),
    ("top2-header", 540, 0.83, (("01educat/02stocks/03buysto", 88), ("01educat/02notrel/03notrel", 5.9), ("01review/02notrel/03altbro", 3.3))),
    ("brokername-link", 530, 0.34, (("01review/02notrel/03notrel", 37), ("01cateme/02notrel/03notrel", 23), ("01review/02notrel/03review", 14), ("01review/02notrel/03feeees", 5.2), ("01review/02notrel/03openac", 4.3), ("01review/02notrel/03withdr", 3.2))),
    ("top2-brokers-vb", 490, 0.45, (("01compar/02brvsbr/03notrel", 98),)),
    ("cb broker cards broker link", 490, 0.50, (("01compar/02notrel/03notrel", 100),)),
    ("compare broker bottom ribbon vbb", 350, 0.54, (("01compar/02notrel/03notrel", 100),)),
    ("chapter-ao-button/first-chapter", 330, 0.40, (("01review/02notrel/03notrel", 42), ("01review/02notrel/03deposi", 18), ("01review/02notrel/03withdr", 16), ("01review/02notrel/03feeees", 6.9), ("01educat/02notrel/03notrel", 5.4), ("01review/02notrel/03openac", 3.9), ("01cateme/02notrel/03notrel", 3.6))),
    ("TableNameLinkClick", 330, 0.60, (("01review/02notrel/03feeees", 18), ("01review/02notrel/03altbro", 16), ("01cateme/02notrel/03notrel", 9.6), ("01review/02notrel/03stonxx", 8.4), ("01review/02notrel/03minbal", 7.8), ("01educat/02stocks/03buysto", 6.9), ("01review/02notrel/03review", 6.3), ("01review/02notrel/03notrel", 4.8), ("01review/02notrel/03openac", 4.8), ("01review/02notrel/03comfee", 3.6), ("01review/02notrel/03isfree", 3.0))),
    ("broker param bar chart visit broker name link", 220, 0.28, (("01review/02notrel/03review", 93), ("01cateme/02notrel/03notrel", 7.0))),
    ("geo-alternatives-link", 210, 0.45, (("01cateme/02notrel/03notrel", 100),)),
    ("broker specific top5-box broker link", 210, 0.48, (("01review/02notrel/03review", 95), ("01cateme/02notrel/03notrel", 5.0))),
    ("broker review card visit broker button", 200, 0.38, (("01review/02notrel/03review", 100),)),
    ("", 200, 0.01, (("01counpg/02notrel/03notrel", 16), ("01review/02notrel/03review", 14), ("01bestca/02notrel/03notrel", 9.2), ("01review/02notrel/03altbro", 8.2), ("01bestca/02notrel/03online", 7.1), ("01review/02notrel/03notrel", 5.6), ("01review/02notrel/03option", 5.1), ("01review/02notrel/03feeees", 4.6), ("01review/02notrel/03withdr", 4.1), ("01bestca/02notrel/03discou", 4.1))),
    ("top2-brokers-vb-name-link", 170, 0.49, (("01compar/02brvsbr/03notrel", 99),)),
    ("header-title-name-link", 170, 0.20, (("01review/02notrel/03review", 41), ("01review/02notrel/03notrel", 13), ("01cateme/02notrel/03notrel", 8.8), ("01review/02notrel/03feeees", 6.5), ("01review/02notrel/03deposi", 5.3), ("01review/02notrel/03withdr", 5.3), ("01review/02notrel/03openac", 4.7), ("01review/02notrel/03option", 3.5), ("01review/02notrel/03stonxx", 3.5))),
    ("front-page-visit-broker-button-name-link", 150, 0.16, (("01homepa/02notrel/03notrel", 100),)),
    ("table-winners", 140, 0.63, (("01educat/02stocks/03buysto", 95), ("01educat/02stocks/03buyipo", 3.5))),
    ("front-page-top-5-box-visit-broker-link", 120, 0.25, (("01homepa/02notrel/03notrel", 100),)),
    ("best-brokers-chapter-title", 110, 0.29, (("01bestca/02notrel/03notrel", 46), ("01bestca/02notrel/03online", 36), ("01cateme/02notrel/03notrel", 5.4), ("01bestca/02notrel/03discou", 4.5), ("01review/02notrel/03altbro", 4.5), ("01bestca/02forexx/03notrel", 3.6))),
    ("brokername-link/first-chapter", 110, 0.22, (("01review/02notrel/03notrel", 86), ("01cateme/02notrel/03notrel", 6.4), ("01counpg/02notrel/03notrel", 3.6))),
    ("top2-broker-1", 110, 0.66, (("01educat/02stocks/03buysto", 65), ("01educat/02notrel/03notrel", 18), ("01cateme/02notrel/03notrel", 11), ("01bestca/02notrel/03notrel", 3.7))),
    ("broker specific top 5 box broker link", 100, 0.52, (("01review/02notrel/03review", 97),)),
    ("scam-shield-page-trust-card-visit-broker-button", 97, 0.65, (("01scashi/02notrel/03notrel", 100),)),
    ("review/geo-checker", 93, 0.31, (("01review/02notrel/03notrel", 40), ("01cateme/02notrel/03notrel", 13), ("01review/02notrel/03openac", 9.7), ("01review/02notrel/03minbal", 7.5), ("01review/02notrel/03deposi", 6.5), ("01review/02notrel/03feeees", 5.4), ("01review/02notrel/03withdr", 4.3), ("01review/02notrel/03beginn", 4.3), ("01review/02notrel/03comfee", 3.2))),
    ("header-logo", 87, 0.07, (("01review/02notrel/03review", 26), ("01review/02notrel/03notrel", 13), ("01cateme/02notrel/03notrel", 10), ("01review/02notrel/03deposi", 6.9), ("01review/02notrel/03feeees", 6.9), ("01review/02notrel/03openac", 5.7), ("01review/02notrel/03option", 4.6), ("01review/02notrel/03stonxx", 4.6), ("01review/02notrel/03altbro", 4.6), ("01review/02notrel/03withdr", 3.4), ("01review/02notrel/03minbal", 3.4))),
    ("broker-listpage-visit-broker-button-logo", 85, 0.55, (("01review/02notrel/03notrel", 100),)),
    ("personal page broker card visit broker button", 74, 0.76, (("01cateme/02notrel/03notrel", 100),)),
    ("front-page-visit-broker-button-logo", 65, 0.18, (("01homepa/02notrel/03notrel", 100),)),
    ("broker-chapter-2/summary", 55, 0.25, (("01bestca/02notrel/03notrel", 71), ("01bestca/02notrel/03discou", 11), ("01review/02notrel/03altbro", 9.0), ("01cateme/02notrel/03notrel", 9.0))),
    ("best-brokers-chapter-logo", 52, 0.12, (("01bestca/02notrel/03notrel", 48), ("01bestca/02notrel/03online", 27), ("01review/02notrel/03altbro", 7.7), ("01bestca/02forexx/03notrel", 7.7), ("01bestca/02notrel/03discou", 5.8), ("01cateme/02notrel/03notrel", 3.8))),
    ("broker-chapter-3/summary", 51, 0.31, (("01bestca/02notrel/03notrel", 82), ("01cateme/02notrel/03notrel", 12), ("01bestca/02notrel/03discou", 3.9))),
    ("broker review card visit broker name link", 40, 0.35, (("01review/02notrel/03review", 100),)),
    ("broker param bar chart visit broker button", 38, 0.18, (("01review/02notrel/03review", 100),)),
    ("chapter-ao-button/last-chapter", 37, 0.11, (("01review/02notrel/03notrel", 92), ("01educat/02notrel/03notrel", 8.0))),
    ("broker-chapter-4/summary", 35, 0.34, (("01bestca/02notrel/03notrel", 46), ("01bestca/02forexx/03notrel", 37), ("01review/02notrel/03altbro", 17))),
    ("card-list-fee-calc-VB-button", 32, 0.34, (("01cateme/02notrel/03notrel", 100),)),
    ("chapter-ao-button/account-opening", 31, 0.13, (("01review/02notrel/03review", 77), ("01review/02notrel/03feeees", 13), ("01review/02notrel/03notrel", 10))),
    ("scam-shield-page-trust-card-name-link", 30, 0.33, (("01scashi/02notrel/03notrel", 100),)),
    ("compare broker bottom ribbon broker link", 30, 0.17, (("01compar/02notrel/03notrel", 100),)),
    ("table-alternatives", 29, 0.14, (("01review/02notrel/03altbro", 100),)),
    ("embedded-fee-calc-VB-button", 26, 0.42, (("01review/02notrel/03feeees", 88), ("01review/02notrel/03isfree", 7.7), ("01review/02notrel/03beginn", 3.8))),
    ("chapter-ao-button/isa-transfer", 18, 0.28, (("01review/02notrel/03notrel", 100),)),
    ("broker review card visit broker logo link", 16, 0.12, (("01review/02notrel/03review", 100),)),
    ("chapter-ao-button/desktop-trading-platform", 15, 0.13, (("01review/02notrel/03review", 100),)),
    ("chapter-ao-button/countries-where", 13, 0.31, (("01review/02notrel/03openac", 100),)),
    ("broker-chapter-5/summary", 12, 0.25, (("01bestca/02forexx/03notrel", 50), ("01bestca/02notrel/03notrel", 33), ("01bestca/02notrel/03online", 17))),
    ("asset-reco-broker-card-visit-broker-button", 12, 0.33, (("01invgoa/02notrel/03notrel", 100),)),
    ("brokername-link/last-chapter", 12, 0.17, (("01counpg/02notrel/03notrel", 42), ("01educat/02notrel/03notrel", 33), ("01review/02notrel/03notrel", 25))),
    ("fx fee calculator result visit broker button", 11, 0.45, (("01cateme/02notrel/03notrel", 100),)),
    ("chapter-ao-button/mobile-trading-platform", 9, 0.05, (("01review/02notrel/03review", 100),)),
    ("top2-broker-2", 8, 0.25, (("01review/02notrel/03altbro", 100),)),
    ("chapter-ao-button/how-to-buy-sell-silver", 8, 0.50, (("01review/02notrel/03silver", 100),)),
    ("card-list-fee-calc-VB-namelink", 8, 0.25, (("01cateme/02notrel/03notrel", 100),)),
)

# Overall page-code mix (per 10k), used for the part of a UI element's clicks not listed above.
# The two 01safety codes are real page codes the mapping file does not know.
_OTHER_CATEGORIES: tuple[tuple[str, float], ...] = (
    ("01bestca/02notrel/03notrel", 1800), ("01bestca/02notrel/03online", 1600),
    ("01counpg/02notrel/03notrel", 1400), ("01fmybro/02notrel/03notrel", 1400),
    ("01safety/02isscam/03notrel", 750), ("01review/02notrel/03review", 680),
    ("01cateme/02notrel/03notrel", 480), ("01review/02notrel/03notrel", 460),
    ("01compar/02brvsbr/03notrel", 240), ("01educat/02stocks/03buysto", 215),
    ("01compar/02notrel/03notrel", 210), ("01homepa/02notrel/03notrel", 124),
    ("01review/02notrel/03altbro", 105), ("01review/02notrel/03feeees", 59),
    ("01review/02notrel/03withdr", 54), ("01bestca/02notrel/03discou", 52),
    ("01review/02notrel/03deposi", 47), ("01review/02notrel/03openac", 44),
    ("01bestca/02forexx/03notrel", 37), ("01safety/02issafe/03notrel", 31),
    ("01educat/02notrel/03notrel", 27), ("01review/02notrel/03beginn", 22),
    ("01review/02notrel/03stonxx", 22), ("01review/02notrel/03minbal", 18),
    ("01review/02notrel/03option", 15), ("01scashi/02notrel/03notrel", 13),
    ("01review/02notrel/03comfee", 12), ("01review/02notrel/03safety", 10),
    ("01review/02notrel/03isfree", 8), ("01review/02notrel/03traapp", 7.5),
    ("01review/02notrel/03silver", 5.4), ("01review/02notrel/03custsv", 4.9),
    ("01bestca/02notrel/03cfdbro", 2.6), ("01invgoa/02notrel/03notrel", 2.0),
    ("01educat/02stocks/03buyipo", 1.7), ("01review/02notrel/03beginr", 0.4),
    ("01bestca/02forexx/03beginn", 0.1),
)

# Clicks per UTC hour relative to the daily mean, and per weekday (Monday first).
_HOURLY = np.array([0.64, 0.62, 0.61, 0.61, 0.62, 0.72, 0.86, 0.98, 1.06, 1.13, 1.15, 1.19,
                    1.27, 1.26, 1.35, 1.28, 1.28, 1.21, 1.19, 1.18, 1.15, 1.06, 0.87, 0.71])
_WEEKDAY = np.array([1.07, 1.10, 1.05, 1.05, 0.96, 0.85, 0.87])
_WEEKDAY = _WEEKDAY / _WEEKDAY.mean()

# Clicks per session: 1, 2, ... (86% of sessions have one click).
_SESSION_SIZES = np.array([0.8750, 0.1058, 0.0218, 0.0066, 0.0022, 0.0009, 0.0004, 0.0003, 0.0002, 0.0001,
                           0.0001])
_SESSION_SIZES = _SESSION_SIZES / _SESSION_SIZES.sum()
_MOBILE_SHARE = 0.544
_RETURNING_SESSIONS = 0.015  # sessions that continue one of an earlier day (an old session id)

# Registration delay after the click, seconds: 0..5 s, then a long tail up to ~800 s.
_DELAY_P = np.array([0.474, 0.428, 0.062, 0.016, 0.006, 0.004])
_DELAY_TAIL = 1.0 - _DELAY_P.sum()  # ~1 %, most of it under a minute
_DELAY_TAIL_MAX = 800

_DOUBLE_CLICK_REGISTERS = 0.2  # relative chance that the second click of a double click registers too
_IP_MISMATCH = 0.03        # VPN, travel: ip country differs from the click's country
_RESIDENCY_FILLED = 0.14   # country_residency blank in 86 % of rows
_RESIDENCY_OTHER = 0.11    # of the filled ones: another country than the ip
_RESIDENCY_DASH = 0.002    # '-' placeholder
_IP_DASH, _IP_BLANK = 0.0002, 0.0002
_SCORE_10, _SCORE_HIGH, _SCORE_REF = 0.016, 0.009, 0.0065

_ID_GAP_MEAN = 5.2          # the click id is a global sequence shared with other events
_ANOMALY_RATE = 0.0003      # payloads, 'Peace', scrambled and glued codes among ordinary clicks
_EXACT_REPEAT_RATE = 0.0001  # a click line written twice, byte for byte
_BURSTS_PER_DAY = 1 / 30    # vulnerability-scanner bursts (real: 2024-05-26 12:01, ~110 clicks)
_SPIKES_PER_DAY = 0.5       # one-country traffic spikes per 1700 clicks

_SQLI_SUFFIXES = (
    "'and(select*from(select+sleep({s}))a/**/union/**/select+1)='",
    '"and(select*from(select+sleep({s}))a/**/union/**/select+1)="',
    "'/**/and(select'1'from/**/pg_sleep({s}))::text>'0",
    "'and(select+1)>0waitfor/**/delay'0:0:{s}",
    "'and/**/extractvalue(1,concat(char(126),md5({n})))and'",
    '"and/**/extractvalue(1,concat(char(126),md5({n})))and"',
    "'and(select'1'from/**/cast(md5({n})as/**/int))>'0",
    "/**/and/**/cast(md5('{n}')as/**/int)>0",
    "'and/**/convert(int,sys.fn_sqlvarbasetostr(HashBytes('MD5','{n}')))>'0",
    "'/**/and/**/DBMS_PIPE.RECEIVE_MESSAGE('{c}',{s})='{c}",
    "'\"\\(",
    "鎈'\"\\(",
    "'",
)
_SQLI_WHOLE = (
    "extractvalue(1,concat(char(126),md5({n})))",
    "convert(int,sys.fn_sqlvarbasetostr(HashBytes('MD5','{n}')))",
)

_HHMMSS_PA = pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)])
_DAY = 86400


# --------------------------------------------------------------------------------------------------
# Sampling tables, built once
# --------------------------------------------------------------------------------------------------


def _cdf(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(cdf) - 1)


# A day's rows are kept as a dict of equally long numpy arrays ("frame"): cheaper than a DataFrame
# for the few operations needed (concatenate, reorder, select).
_Frame = dict


def _concat(frames: list[_Frame]) -> _Frame:
    frames = [f for f in frames if f]
    if not frames:
        return {}
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def _take(frame: _Frame, idx: np.ndarray) -> _Frame:
    return {k: v[idx] for k, v in frame.items()}


def _rows(frame: _Frame) -> int:
    return len(next(iter(frame.values()))) if frame else 0


@dataclass(frozen=True)
class _Tables:
    click_names: np.ndarray
    ip_names: np.ndarray
    residency_names: np.ndarray
    country_cdf: np.ndarray
    us: int
    ru: int
    palestine: int
    joint_ui: np.ndarray        # ui_element per joint (ui, category) cell
    joint_cat: np.ndarray       # measurement_category per cell
    joint_cdf: tuple[np.ndarray, np.ndarray]  # cdf over cells for desktop, mobile
    hour_cdf: np.ndarray
    size_cdf: np.ndarray
    delay_cdf: np.ndarray


def _tables() -> _Tables:
    names = [c[0] for c in COUNTRIES]
    other_cats = [c for c, _ in _OTHER_CATEGORIES]
    other_p = np.array([w for _, w in _OTHER_CATEGORIES], dtype=float)
    other_p /= other_p.sum()
    cells_ui, cells_cat, cells_w = [], [], []
    for ui, weight, _mob, cats in _UI:
        listed = {c: p / 100.0 for c, p in cats}
        rest = max(0.0, 1.0 - sum(listed.values()))
        probs = {c: listed.get(c, 0.0) + rest * op for c, op in zip(other_cats, other_p)}
        for c, p in listed.items():
            probs.setdefault(c, p)
        for c, p in probs.items():
            if p > 0:
                cells_ui.append(ui)
                cells_cat.append(c)
                cells_w.append(weight * p)
    mob = {ui: m for ui, _, m, _ in _UI}
    w = np.array(cells_w)
    m = np.array([mob[u] for u in cells_ui])
    return _Tables(
        click_names=np.array(names, dtype=object),
        ip_names=np.array([c[1] for c in COUNTRIES], dtype=object),
        residency_names=np.array([c[2] for c in COUNTRIES], dtype=object),
        country_cdf=_cdf([c[3] for c in COUNTRIES]),
        us=names.index("United States"),
        ru=names.index("Russia"),
        palestine=names.index("West Bank"),
        joint_ui=np.array(cells_ui, dtype=object),
        joint_cat=np.array(cells_cat, dtype=object),
        joint_cdf=(_cdf(w * (1 - m)), _cdf(w * m)),
        hour_cdf=_cdf(_HOURLY),
        size_cdf=_cdf(_SESSION_SIZES),
        delay_cdf=_cdf(np.append(_DELAY_P, _DELAY_TAIL)),
    )


_T = _tables()


# --------------------------------------------------------------------------------------------------
# State carried from one day to the next
# --------------------------------------------------------------------------------------------------


@dataclass
class _State:
    next_id: int = 5_200_000
    next_sid: int = 71_100_000
    # sessions of earlier days that may come back: session id, country index, is_mobile
    pool_sid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pool_country: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pool_mobile: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # registrations whose timestamp falls on a later day than their click
    carry: _Frame = field(default_factory=dict)


_POOL_MAX = 20_000


# --------------------------------------------------------------------------------------------------
# One day of clicks
# --------------------------------------------------------------------------------------------------


def _diurnal_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = _draw(rng, _T.hour_cdf, n)
    return hour * 3600 + rng.integers(0, 3600, n)


def _clicks_for_day(rng: np.random.Generator, day_start: int, n_target: int,
                    st: _State, sid_gap: float, bursts_per_day: float, anomaly_rate: float) -> _Frame:
    """Clicks of one day in file order: the file's columns plus 'sec', 'ts', 'bot' and 'country_idx'."""
    # Sessions and their sizes until the day's volume is reached.
    n_sess = max(1, int(n_target / 1.19 * 1.1) + 10)
    sizes = _draw(rng, _T.size_cdf, n_sess) + 1
    while sizes.sum() < n_target:
        sizes = np.concatenate([sizes, _draw(rng, _T.size_cdf, n_sess) + 1])
    cum = np.cumsum(sizes)
    n_sess = int(np.searchsorted(cum, n_target, side="left")) + 1
    sizes = sizes[:n_sess]
    if cum[n_sess - 1] > n_target:
        sizes[-1] -= cum[n_sess - 1] - n_target
    sizes = sizes[sizes > 0]
    n_sess = len(sizes)

    # Within-session gaps: double clicks (same second), a few minutes, or hours later (coming back).
    n = int(sizes.sum())
    sess = np.repeat(np.arange(n_sess), sizes)
    first = np.zeros(n, bool)
    first[np.cumsum(sizes) - sizes] = True
    u = rng.random(n)
    gap = np.where(u < 0.72, rng.lognormal(np.log(120.0), 1.4, n), rng.lognormal(np.log(5400.0), 1.0, n))
    gap = np.where(u < 0.05, rng.integers(1, 6, n), gap)
    gap = np.where(u < 0.013, 0, gap).astype(np.int64)
    gap = np.minimum(gap, 6 * 3600)
    gap[first] = 0
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[first], sizes)
    span = offset[np.cumsum(sizes) - 1]
    start = _diurnal_seconds(rng, n_sess)
    start = np.minimum(start, np.maximum(0, _DAY - 1 - span))
    country = _draw(rng, _T.country_cdf, n_sess)
    mobile = (rng.random(n_sess) < _MOBILE_SHARE).astype(np.int8)
    # Traffic spikes: a page shared in one country brings a dozen visitors within a few minutes, so
    # same-second clicks from one country (ambiguous registrations) are more common than uniform.
    single = np.flatnonzero(sizes == 1)
    for _ in range(int(rng.poisson(_SPIKES_PER_DAY * n_target / 1700))):
        k = min(len(single), int(rng.integers(8, 26)))
        if k == 0:
            break
        who = rng.choice(single, k, replace=False)
        t = int(_diurnal_seconds(rng, 1)[0])
        start[who] = np.minimum(t + rng.integers(0, int(rng.integers(60, 301)), k), _DAY - 1)
        country[who] = _draw(rng, _T.country_cdf, 1)[0]
    sec = np.minimum(np.repeat(start, sizes) + offset, _DAY - 1)

    # Session identity: new sessions get rising ids in order of their start; some continue an old one.
    order = np.argsort(start, kind="stable")
    sid = np.empty(n_sess, np.int64)
    gaps = rng.geometric(1.0 / sid_gap, n_sess).astype(np.int64)
    sid[order] = st.next_sid + np.cumsum(gaps)
    st.next_sid = int(sid.max()) + 1
    returning = rng.random(n_sess) < _RETURNING_SESSIONS
    n_ret = int(returning.sum())
    if n_ret:
        if len(st.pool_sid):
            pick = rng.integers(0, len(st.pool_sid), n_ret)
            sid[returning] = st.pool_sid[pick]
            country[returning] = st.pool_country[pick]
            mobile[returning] = st.pool_mobile[pick]
        else:  # first day: sessions started before the data begins
            sid[returning] = st.next_sid - 200_000 - rng.integers(0, 2_000_000, n_ret)

    # Remember some of today's sessions for the coming days (bounded).
    keep = rng.random(n_sess) < min(1.0, _POOL_MAX / 4 / n_sess)
    st.pool_sid = np.concatenate([st.pool_sid, sid[keep]])[-_POOL_MAX:]
    st.pool_country = np.concatenate([st.pool_country, country[keep]])[-_POOL_MAX:]
    st.pool_mobile = np.concatenate([st.pool_mobile, mobile[keep]])[-_POOL_MAX:]

    c_sid = sid[sess]
    c_country = country[sess]
    c_mobile = mobile[sess]
    # UI element and page code, jointly, given the device.
    cell = np.empty(n, np.int64)
    for m in (0, 1):
        idx = np.flatnonzero(c_mobile == m)
        cell[idx] = _draw(rng, _T.joint_cdf[m], len(idx))
    ui = _T.joint_ui[cell]
    cat = _T.joint_cat[cell]
    bot = np.zeros(n, bool)

    df = {
        "sec": sec, "session_id": c_sid, "country_idx": c_country, "is_mobile": c_mobile,
        "ui_element": ui, "measurement_category": cat, "bot": bot,
    }

    # Anomalies among ordinary clicks.
    n_anom = int(rng.binomial(n, anomaly_rate))
    if n_anom:
        rows = rng.choice(n, n_anom, replace=False)
        for r in np.sort(rows):
            _anomalise(rng, df, int(r))

    # A vulnerability scanner hammering the front-page button for two minutes.
    n_bursts = int(rng.poisson(bursts_per_day))
    if n_bursts:
        df = _concat([df] + [_burst(rng, st, sid_gap) for _ in range(n_bursts)])

    df = _take(df, np.lexsort((df["session_id"], df["sec"])))
    n = _rows(df)
    ids = st.next_id + np.cumsum(rng.geometric(1.0 / _ID_GAP_MEAN, n).astype(np.int64))
    st.next_id = int(ids[-1]) + 1 if n else st.next_id
    df["id"] = ids
    # Both systems log in real time: within a second, clicks happen in id order (the fraction of the
    # second is never written, but it orders the partner's rows below).
    frac = rng.random(n)
    df["frac"] = frac[np.lexsort((frac, df["sec"]))]
    df["ts"] = day_start + df["sec"]
    df["country_name"] = _T.click_names[df["country_idx"]]
    return df


def _fill(template: str, rng: np.random.Generator) -> str:
    return template.format(
        s=int(rng.choice([0, 2])),
        n=int(rng.integers(1_000_000_000, 2_000_000_000)),
        c=chr(ord("a") + int(rng.integers(0, 26))),
    )


def _scramble(text: str) -> str:
    """What a broken client sends: letters rotated, code numbers shifted ('01bestca' -> '34orfgpn')."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + 13) % 26 + 97))
        elif ch.isdigit():
            out.append(str((int(ch) + 3) % 10))
        else:
            out.append(ch)
    return "".join(out)


def _anomalise(rng: np.random.Generator, df: _Frame, r: int) -> None:
    kind = rng.random()
    cat = df["measurement_category"][r]
    ui = df["ui_element"][r]
    if kind < 0.45:  # SQL injection payload in the page code
        if rng.random() < 0.15:
            df["measurement_category"][r] = _fill(_SQLI_WHOLE[int(rng.integers(len(_SQLI_WHOLE)))], rng)
        else:
            df["measurement_category"][r] = cat + _fill(_SQLI_SUFFIXES[int(rng.integers(len(_SQLI_SUFFIXES)))], rng)
        df["bot"][r] = True
    elif kind < 0.65:  # 'Peace' from a Russian desktop visitor
        df["measurement_category"][r] = "Peace"
        df["ui_element"][r] = "desktop-top5-box"
        df["country_idx"][r] = _T.ru
        df["is_mobile"][r] = 0
        df["bot"][r] = True
    elif kind < 0.82:  # scrambled codes
        df["measurement_category"][r] = _scramble(cat)
        df["ui_element"][r] = _scramble(ui)
        df["bot"][r] = True
    else:  # the measurement list glued onto the page code, element lost
        if rng.random() < 0.5:
            df["measurement_category"][r] = f"{cat}&measurementlist={ui}"
            df["ui_element"][r] = ""
        else:
            df["measurement_category"][r] = f"{cat}measurementList={ui}"
            df["ui_element"][r] = ""


def _burst(rng: np.random.Generator, st: _State, sid_gap: float) -> _Frame:
    n = int(rng.integers(80, 130))
    t0 = int(rng.integers(0, _DAY - 240))
    sec = np.sort(t0 + rng.integers(0, 150, n))
    sid = st.next_sid + np.cumsum(rng.integers(1, 4, n))
    st.next_sid = int(sid[-1]) + int(sid_gap)
    ui = np.full(n, "front-page-visit-broker-button", dtype=object)
    cat = np.full(n, "01homepa/02notrel/03notrel", dtype=object)
    for r in np.flatnonzero(rng.random(n) < 0.35):
        target = ui if rng.random() < 0.55 else cat
        whole = rng.random() < 0.1
        tpl = _SQLI_WHOLE if whole else _SQLI_SUFFIXES
        payload = _fill(tpl[int(rng.integers(len(tpl)))], rng)
        target[r] = payload if whole else target[r] + payload
    return {
        "sec": sec, "session_id": sid, "country_idx": np.full(n, _T.us, np.int64), "is_mobile": np.zeros(n, np.int8),
        "ui_element": ui, "measurement_category": cat, "bot": np.ones(n, bool),
    }


def _str(values) -> pa.Array:
    """A string Arrow array from numbers or Python strings."""
    arr = pa.array(values)
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def _quote(arr: pa.Array, sep: str) -> pa.Array:
    """CSV-minimal quoting: only fields holding a quote or the delimiter (payloads) get quoted."""
    needs = pc.or_(pc.match_substring(arr, '"'), pc.match_substring(arr, sep))
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def _write_lines(path: Path, header: str, lines: pa.Array, eol: str = "\n", bom: bool = False,
                 final_eol: bool = True) -> None:
    body = eol.join([header, *lines.to_pylist()])
    if final_eol:
        body += eol
    data = body.encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + data if bom else data)


def _write_conversions(path: Path, df: _Frame, date_str: str, rng: np.random.Generator,
                       repeat_rate: float) -> tuple[int, int]:
    """Write the day's click file; Palestine clicks appear twice ('West Bank', 'Gaza Strip'), some lines
    repeat exactly. Returns (lines written, duplicate lines)."""
    n = _rows(df)
    rep = np.ones(n, np.int64)
    pal = df["country_idx"] == _T.palestine
    rep[pal] = 2
    rep[(rng.random(n) < repeat_rate) & ~pal] = 2
    take = np.repeat(np.arange(n), rep)
    country = df["country_name"][take]
    if (rep > 1).any():
        second = np.zeros(len(take), bool)
        second[np.cumsum(rep)[rep > 1] - 1] = True
        country = np.where(second & (country == "West Bank"), "Gaza Strip", country)
    created = pc.binary_join_element_wise(date_str, pc.take(_HHMMSS_PA, pa.array(df["sec"][take])), " ")
    lines = pc.binary_join_element_wise(
        _str(df["id"][take]),
        _str(df["session_id"][take]),
        _quote(_str(country), ";"),
        _str(df["is_mobile"][take]),
        _quote(_str(df["ui_element"][take]), ";"),
        created,
        _quote(_str(df["measurement_category"][take]), ";"),
        ";",
    )
    _write_lines(path, CONVERSIONS_HEADER, lines)
    return len(take), int((rep - 1).sum())


# --------------------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------------------


def _partner_columns(rng: np.random.Generator, country: np.ndarray) -> dict[str, np.ndarray]:
    n = len(country)
    ip_idx = country.copy()
    vpn = rng.random(n) < _IP_MISMATCH
    other = _draw(rng, _T.country_cdf, n)
    other = np.where(other == country, (other + 1) % len(_T.ip_names), other)
    ip_idx[vpn] = other[vpn]
    ip = _T.ip_names[ip_idx].copy()
    u = rng.random(n)
    ip[u < _IP_DASH] = "-"
    ip[(u >= _IP_DASH) & (u < _IP_DASH + _IP_BLANK)] = ""

    res_idx = ip_idx.copy()
    elsewhere = rng.random(n) < _RESIDENCY_OTHER
    other = _draw(rng, _T.country_cdf, n)
    other = np.where(other == ip_idx, (other + 1) % len(_T.ip_names), other)
    res_idx[elsewhere] = other[elsewhere]
    res = _T.residency_names[res_idx].copy()
    u = rng.random(n)
    res[u >= _RESIDENCY_FILLED] = ""
    res[(u >= _RESIDENCY_FILLED) & (u < _RESIDENCY_FILLED + _RESIDENCY_DASH)] = "-"

    u = rng.random(n)
    score = np.full(n, "0", dtype=object)
    score[u < _SCORE_10] = "10"
    high = (u >= _SCORE_10) & (u < _SCORE_10 + _SCORE_HIGH)
    score[high] = rng.integers(11, 101, int(high.sum())).astype(str)
    score[(u >= _SCORE_10 + _SCORE_HIGH) & (u < _SCORE_10 + _SCORE_HIGH + _SCORE_REF)] = "#REF!"
    return {"residency": res, "ip": ip, "score": score}


def _delays(rng: np.random.Generator, n: int) -> np.ndarray:
    k = _draw(rng, _T.delay_cdf, n)
    tail = k == len(_DELAY_P)
    d = k.astype(np.int64)
    d[tail] = np.exp(rng.uniform(np.log(6), np.log(_DELAY_TAIL_MAX), int(tail.sum()))).astype(np.int64)
    return d


def _registrations_for_day(rng: np.random.Generator, clicks: _Frame, day_start: int, partner_from: int,
                           rate: float, unexplained_share: float) -> _Frame:
    eligible = ~clicks["bot"] & (clicks["ts"] >= partner_from)
    # A double click (same session, same second) is one intent: its second click seldom registers again
    # (real data: 61% of such pairs are followed by one registration of their country, 17% by two).
    sid, sec = clicks["session_id"], clicks["sec"]
    repeat = np.zeros(_rows(clicks), bool)
    repeat[1:] = (sid[1:] == sid[:-1]) & (sec[1:] == sec[:-1])
    reg = eligible & (rng.random(_rows(clicks)) < np.where(repeat, rate * _DOUBLE_CLICK_REGISTERS, rate))
    n_ex = int(reg.sum())
    delay = _delays(rng, n_ex)
    explained = {
        "ts": clicks["ts"][reg] + delay,
        # a registration in the click's own second comes after it within that second
        "frac": np.where(delay == 0, clicks["frac"][reg] + rng.random(n_ex) * (1 - clicks["frac"][reg]),
                         rng.random(n_ex)),
        **_partner_columns(rng, clicks["country_idx"][reg]),
        "conversion_id": clicks["id"][reg],
    }
    # Registrations no click explains: other channels, lost clicks.
    lo = max(day_start, partner_from)
    n_un = int(rng.poisson(n_ex * unexplained_share / (1 - unexplained_share))) if lo < day_start + _DAY else 0
    ts = day_start + _diurnal_seconds(rng, n_un)
    ts = np.where(ts < lo, lo + rng.integers(0, max(1, day_start + _DAY - lo), n_un), ts)
    unexplained = {
        "ts": ts,
        "frac": rng.random(n_un),
        **_partner_columns(rng, _draw(rng, _T.country_cdf, n_un)),
        "conversion_id": np.full(n_un, -1, np.int64),
    }
    return _concat([explained, unexplained])


def _broker_lines(df: _Frame) -> pa.Array:
    ts = _str(df["ts"])
    res = _str(df["residency"])
    ip = _str(df["ip"])
    score = _str(df["score"])
    # The partner does not quote: 'Bonaire, Sint Eustatius and Saba' comes out as
    # 'ts,Bonaire, Sint Eustatius and Saba,score' (four fields, residency lost, a naive parse reads
    # residency 'Bonaire' and ip ' Sint Eustatius and Saba'), as in the real export.
    normal = pc.binary_join_element_wise(ts, res, ip, score, ",")
    bes = pc.equal(ip, "Bonaire, Sint Eustatius and Saba")
    if pc.any(bes).as_py():
        return pc.if_else(bes, pc.binary_join_element_wise(ts, ip, score, ","), normal)
    return normal


def _write_broker(path: Path, df: _Frame, form: str) -> None:
    """form: 'lf', 'crlf', 'bom-crlf', 'crlf-noeol' (no newline after the last row)."""
    _write_lines(path, BROKER_HEADER, _broker_lines(df), eol="\n" if form == "lf" else "\r\n",
                 bom=form == "bom-crlf", final_eol=form != "crlf-noeol")


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


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
) -> dict:
    """Write a landing folder of ``days`` days of synthetic clicks and one partner's registrations.

    ``registration_rate``: share of (human) clicks after ``partner_from`` that lead to a registration.
    ``partner_from``: when the partner's export starts (a timestamp string, UTC); default: ``start``.
    Registrations after the end of the last day are not exported (the partner's cut-off).
    Returns a summary: files written (relative keys), rows per source, registrations, unexplained ones.
    """
    out = Path(out_dir)
    if days < 1 or per_day < 1:
        raise ValueError("days and per_day must be positive")
    conv_dir = out / "conversions"
    broker_dir = out / "broker" / partner
    ref_dir = out / "reference"
    for d in (conv_dir, broker_dir, ref_dir):
        d.mkdir(parents=True, exist_ok=True)

    ref_key = "reference/page_category_mapping.csv"
    mapping = "\r\n".join(["page_category;measurement_category"] + [f"{p};{m}" for p, m in PAGE_CATEGORY_MAPPING])
    (out / ref_key).write_bytes(mapping.encode("utf-8"))

    t0 = _to_unix(start) // _DAY * _DAY
    p0 = _to_unix(partner_from) if partner_from is not None else t0
    st = _State()
    sid_gap = max(2.0, 100.0 * 1700 / per_day)  # session ids grow ~140k a day at the real volume
    summary = {
        "out_dir": str(out),
        "files": {"conversions": 0, "broker": 0, "reference": 1, "truth": 1},
        "file_keys": {"conversions": [], "broker": [], "reference": [ref_key], "truth": ["truth.csv"]},
        "rows": {"conversions": 0, "broker": 0, "truth": 0},
        "clicks": 0,
        "duplicate_lines": 0,
        "bot_clicks": 0,
        "registrations": 0,
        "unexplained_registrations": 0,
        "dropped_after_cutoff": 0,
    }
    first_partner_file = True

    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as truth:
        truth.write(TRUTH_HEADER + "\n")
        for d in range(days):
            rng = np.random.default_rng([seed, d])
            day_start = t0 + d * _DAY
            date = pd.Timestamp(day_start, unit="s")
            ymd, date_str = date.strftime("%Y%m%d"), date.strftime("%Y-%m-%d")
            dow = date.weekday()
            n_target = int(rng.poisson(per_day * _WEEKDAY[dow] * rng.lognormal(0.0, 0.08)))
            n_target = max(n_target, 1)

            clicks = _clicks_for_day(rng, day_start, n_target, st, sid_gap, bursts_per_day, anomaly_rate)
            conv_key = f"conversions/conversions_{ymd}.csv"
            lines, dups = _write_conversions(out / conv_key, clicks, date_str, rng, _EXACT_REPEAT_RATE)
            summary["file_keys"]["conversions"].append(conv_key)
            summary["files"]["conversions"] += 1
            summary["rows"]["conversions"] += lines
            summary["duplicate_lines"] += dups
            summary["bot_clicks"] += int(clicks["bot"].sum())
            summary["clicks"] += _rows(clicks)
            if progress is not None:
                progress(lines)

            regs = _registrations_for_day(rng, clicks, day_start, p0, registration_rate, unexplained_share)
            regs = _concat([st.carry, regs])
            day_end = day_start + _DAY
            later = regs["ts"] >= day_end if regs else np.zeros(0, bool)
            st.carry = _take(regs, np.flatnonzero(later)) if later.any() else {}
            today = _take(regs, np.flatnonzero(~later)) if regs else {}
            if day_end <= p0:
                continue  # the partner's export has not started yet
            # Partner exports are sorted by time, to the fraction of a second their system logged.
            n_today = _rows(today)
            if n_today:
                today = _take(today, np.lexsort((today["frac"], today["ts"])))
            else:
                today = {k: np.zeros(0, np.int64) for k in ("ts", "conversion_id")} | {
                    k: np.zeros(0, object) for k in ("residency", "ip", "score")}

            broker_key = f"broker/{partner}/registrations_{ymd}.csv"
            if first_partner_file:
                form = "bom-crlf"
                first_partner_file = False
            else:
                u = rng.random()
                form = "crlf" if u < 0.2 else "crlf-noeol" if u < 0.3 else "lf"
            _write_broker(out / broker_key, today, form)
            summary["file_keys"]["broker"].append(broker_key)
            summary["files"]["broker"] += 1
            summary["rows"]["broker"] += n_today

            cid = today["conversion_id"]
            cid_str = pc.if_else(pa.array(cid >= 0), _str(cid), "")
            rows = pc.binary_join_element_wise(broker_key, _str(np.arange(2, n_today + 2)), cid_str, ",")
            if n_today:
                truth.write("\n".join(rows.to_pylist()) + "\n")
            summary["rows"]["truth"] += n_today
            summary["registrations"] += n_today
            summary["unexplained_registrations"] += int((cid < 0).sum())

    summary["dropped_after_cutoff"] = _rows(st.carry)
    return summary
