-- Question: which UI elements (buttons, links, boxes) drive the most clicks, and which of them
-- convert those clicks into partner registrations?
-- The top_n UI elements by clicks, among those with at least min_clicks clicks (edit the params CTE),
-- with registrations, registration_rate = registrations / clicks and lift_vs_overall = the element's
-- rate divided by the rate over all clicks (1.0 = average, 2.0 = twice as good).
WITH params AS (
    SELECT 30 AS min_clicks, 20 AS top_n
),
by_element AS (
    SELECT
        coalesce(ui_element, '(none)') AS ui_element,
        count(*) AS clicks,
        count_if(partner IS NOT NULL) AS registrations
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
    GROUP BY coalesce(ui_element, '(none)')
),
ranked AS (
    SELECT
        ui_element,
        clicks,
        registrations,
        row_number() OVER (ORDER BY clicks DESC, ui_element) AS click_rank,
        CAST(sum(registrations) OVER () AS double) / sum(clicks) OVER () AS overall_rate
    FROM by_element
)
SELECT
    r.click_rank,
    r.ui_element,
    r.clicks,
    r.registrations,
    round(CAST(r.registrations AS double) / r.clicks, 4) AS registration_rate,
    round(CAST(r.registrations AS double) / r.clicks / nullif(r.overall_rate, 0), 3) AS lift_vs_overall
FROM ranked AS r
CROSS JOIN params AS p
WHERE r.clicks >= p.min_clicks
  AND r.click_rank <= p.top_n
ORDER BY r.click_rank
