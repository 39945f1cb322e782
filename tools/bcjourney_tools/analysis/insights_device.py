"""Registration rate by device: mobile against desktop, raw and adjusted for the country mix (report_adjust). The
markets that register least send mostly one device, so only the adjusted gap can justify a device action."""

from __future__ import annotations

import math

from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.insights_product import _clicks
from bcjourney_tools.analysis.report_adjust import (
    add_country_adjustment,
    add_value_per_click,
    adjusted_difference,
    by_country_of,
)
from bcjourney_tools.analysis.report_compare import (
    comparison_test,
    day_cells,
    phi_note,
    pool_top,
    rate_contrast,
    rate_segments,
)
from bcjourney_tools.analysis.report_data import LakeData, query
from bcjourney_tools.analysis.report_format import fmt_p, pct, pp
from bcjourney_tools.analysis.report_stats import ALPHA


def by_device(data: LakeData, rng) -> Insight:
    q3 = query(data, "registration_rate_by_device_and_country")
    dev = q3.groupby("device", sort=False)[["clicks", "registrations"]].sum().reset_index()
    dev = dev.sort_values(["clicks", "device"], ascending=[False, True])
    m = dev.set_index("device")
    pooled = pool_top(dev, "device", "clicks", "registrations", 99)
    clicks = _clicks(data)
    cells = day_cells(clicks, clicks["device"], clicks["registered"], pooled["segment"].tolist())
    _, _, _, dispersion = comparison_test(pooled, cells, rng)
    segs = rate_segments(pooled, dispersion)
    if "mobile" in m.index and "desktop" in m.index:
        km, nm = int(m.loc["mobile", "registrations"]), int(m.loc["mobile", "clicks"])
        kd, nd = int(m.loc["desktop", "registrations"]), int(m.loc["desktop", "clicks"])
    else:  # a lake with one device only
        km = nm = kd = nd = 0
    md = rate_contrast(km, nm, kd, nd, dispersion)  # mobile against desktop
    test, p, diff, ci = md.test, md.p_value, md.difference, md.ci
    if dispersion > 1.0:
        test += f" (phi = {dispersion:.2f} from day-to-day variation)"
    label, country, registered, score = by_country_of(clicks, clicks["device"])
    add_country_adjustment(segs, label, country, registered, dispersion=dispersion)
    add_value_per_click(segs, label, score)
    by_name = {s["segment"]: s for s in segs}
    adj_diff, adj_ci, adj_p = (adjusted_difference(by_name["mobile"], by_name["desktop"], dispersion)
                               if {"mobile", "desktop"} <= set(by_name) else (math.nan, (math.nan, math.nan), 1.0))
    finding = (f"Mobile clicks register at {pct(km / nm if nm else math.nan)} (n = {nm:,}), desktop clicks at "
               f"{pct(kd / nd if nd else math.nan)} (n = {nd:,}): a difference of {pp(diff)} (95% CI "
               f"{pp(ci[0])} to {pp(ci[1])}). Adjusted for the country mix (each device's registrations against "
               f"what its clicks' countries predict) the difference is {pp(adj_diff)} (95% CI {pp(adj_ci[0])} to "
               f"{pp(adj_ci[1])}, p = {fmt_p(adj_p)}).")
    ins = Insight(key="rate_by_device", title="Registration rate by device", finding=finding, number=diff,
                  number_label="mobile minus desktop registration rate", ci=ci,
                  ci_method="Newcombe hybrid score" + phi_note(dispersion), unit="rate_diff", test=test, p_value=p,
                  segments=segs,
                  details={"mobile_k": km, "mobile_n": nm, "desktop_k": kd, "desktop_n": nd,
                           "dispersion": dispersion, "adjusted_difference": adj_diff, "adjusted_ci": list(adj_ci),
                           "adjusted_p": adj_p},
                  plot_data={"overall": (km + kd) / (nm + nd) if nm + nd else math.nan,
                                        "what": "registration rate", "dimension": "device"})

    def act(i):
        if adj_p >= ALPHA:
            return (f"The raw gap of {pp(abs(diff))[1:]} between mobile and desktop is the country mix (adjusted "
                    f"{pp(adj_diff)}, p = {fmt_p(adj_p)}): the markets that register least send mostly one device. "
                    "No device action; act on those markets instead (see the markets by registrations lost).")
        worse, better = ("mobile", "desktop") if adj_diff < 0 else ("desktop", "mobile")
        return (f"{worse.capitalize()} clicks register {pp(abs(adj_diff))[1:]} less often than {better} clicks from "
                f"the same markets: walk through the {worse} click-out and the partner's {worse} sign-up page for "
                f"friction (load time, forms, app-store detours) and A/B-test fixes on {worse} first.")

    ins._action_if_significant = act
    return ins
