-- Question: which entry pages turn clicks into partner registrations best?
-- For every page_category the click came from: clicks, registrations linked to those clicks,
-- registration_rate = registrations / clicks, and the category's share of all clicks.
-- A click is a unified_journeys row with a conversion_id; it counts as registered when the matcher
-- linked a partner registration to it (partner IS NOT NULL). Clicks whose measurement_category has no
-- page_category in the mapping show as '(unmapped)'.
WITH clicks AS (
    SELECT
        coalesce(page_category, '(unmapped)') AS page_category,
        partner IS NOT NULL AS registered
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
)
SELECT
    page_category,
    count(*) AS clicks,
    count_if(registered) AS registrations,
    round(CAST(count_if(registered) AS double) / count(*), 4) AS registration_rate,
    round(CAST(count(*) AS double) / sum(count(*)) OVER (), 4) AS share_of_clicks
FROM clicks
GROUP BY page_category
ORDER BY clicks DESC, page_category
