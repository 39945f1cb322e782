-- Question: which entry points (page_category x ui_element) bring high-value users, per click and
-- per registration?
-- For every page_category x ui_element with at least min_clicks clicks (edit the params CTE): clicks,
-- registrations, high_value_registrations (HIGH-VALUE = important_score >= 50, as in query 05),
-- high_value_share_of_registrations (over registrations with a score; null when none has one) and
-- high_value_per_1000_clicks, the number to rank entry points by when traffic can be steered.
WITH params AS (
    SELECT 20 AS min_clicks
),
clicks AS (
    SELECT
        coalesce(page_category, '(unmapped)') AS page_category,
        coalesce(ui_element, '(none)') AS ui_element,
        partner IS NOT NULL AS registered,
        important_score
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
),
by_entry AS (
    SELECT
        page_category,
        ui_element,
        count(*) AS clicks,
        count_if(registered) AS registrations,
        count_if(registered AND important_score IS NOT NULL) AS scored_registrations,
        count_if(registered AND important_score >= 50) AS high_value_registrations
    FROM clicks
    GROUP BY page_category, ui_element
)
SELECT
    e.page_category,
    e.ui_element,
    e.clicks,
    e.registrations,
    e.high_value_registrations,
    round(CAST(e.high_value_registrations AS double) / nullif(e.scored_registrations, 0), 4)
        AS high_value_share_of_registrations,
    round(CAST(e.high_value_registrations AS double) * 1000 / e.clicks, 2) AS high_value_per_1000_clicks
FROM by_entry AS e
CROSS JOIN params AS p
WHERE e.clicks >= p.min_clicks
ORDER BY high_value_per_1000_clicks DESC, e.clicks DESC, e.page_category, e.ui_element
