"""The plot of insights_anomalies.anomaly_layer: daily clicks of each bursting market (its burst dates marked), and
the registrations no click explains per day for the IP countries that pile them up."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from bcjourney_tools.analysis.insight import Insight

COLOURS = ("#1f4e79", "#c0392b", "#e69f00", "#2a9d4b", "#8e44ad")


def _label(ax, title: str, ylabel: str, drawn: bool, empty: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)


def plot_anomalies(ins: Insight) -> Figure:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.6))
    clicks, bursts = ins.plot_data["clicks"], ins.plot_data["bursts"]
    day = clicks["converted_at"].dt.floor("D")
    markets = list(dict.fromkeys(bursts["country_code"])) if len(bursts) else []
    for i, country in enumerate(markets[:5]):
        daily = clicks[clicks["country_code"] == country].groupby(day).size()
        left.plot(daily.index, daily.to_numpy(), color=COLOURS[i], label=country)
        marked = daily[daily.index.isin(pd.to_datetime(bursts.loc[bursts["country_code"] == country, "day"]))]
        left.scatter(marked.index, marked.to_numpy(), color=COLOURS[i], zorder=3)
    _label(left, "Clicks per day of the bursting markets", "clicks", bool(markets), "no market burst")
    rows, unexplained = ins.plot_data["rows"], ins.plot_data["unexplained"]
    lone = rows[~rows["is_click"] & rows["registered"]]
    countries = list(dict.fromkeys(unexplained["ip_country_code"])) if len(unexplained) else []
    for i, country in enumerate(countries[:5]):
        of = lone[lone["ip_country_code"] == country]
        daily = of.groupby(of["registered_at"].dt.floor("D")).size()
        right.bar(daily.index, daily.to_numpy(), color=COLOURS[i], label=f"IP {country}", width=0.8)
    _label(right, "Registrations no click explains, per day", "registrations", bool(countries),
           "no IP country piles them up")
    for ax in (left, right):
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(ins.title, fontsize=11)
    fig.tight_layout()
    return fig
