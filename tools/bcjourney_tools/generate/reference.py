"""The generator's reference data: file headers, the markets and their three naming schemes, UI elements and
page codes per device, the page mapping, and the behaviour constants measured on the real extract."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

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
