-- Question: which entry pages, devices and countries bring the valuable users?
-- For registrations linked to a click, the partner's important_score (0-100; null = the partner sent
-- junk) summarised per entry page_category, per device and per country_code, plus an 'all' baseline:
-- avg_score, share_score_positive (score > 0) and share_high_value. HIGH-VALUE means
-- important_score >= 50. Both shares are over scored_registrations (registrations with a score), so
-- junk scores neither help nor hurt a segment. dimension says which column a row is grouped by; the
-- other two dimension columns are null on that row.
WITH registrations AS (
    SELECT
        coalesce(page_category, '(unmapped)') AS page_category,
        CASE WHEN is_mobile THEN 'mobile' WHEN NOT is_mobile THEN 'desktop' ELSE '(unknown)' END AS device,
        coalesce(country_code, '(unknown)') AS country_code,
        important_score
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
      AND partner IS NOT NULL
),
grouped AS (
    SELECT
        CASE
            WHEN grouping(page_category) = 0 THEN 'page_category'
            WHEN grouping(device) = 0 THEN 'device'
            WHEN grouping(country_code) = 0 THEN 'country_code'
            ELSE 'all'
        END AS dimension,
        page_category,
        device,
        country_code,
        count(*) AS registrations,
        count(important_score) AS scored_registrations,
        avg(important_score) AS avg_score,
        count_if(important_score > 0) AS score_positive,
        count_if(important_score >= 50) AS high_value
    FROM registrations
    GROUP BY GROUPING SETS ((page_category), (device), (country_code), ())
)
SELECT
    dimension,
    page_category,
    device,
    country_code,
    registrations,
    scored_registrations,
    round(avg_score, 2) AS avg_score,
    round(CAST(score_positive AS double) / nullif(scored_registrations, 0), 4) AS share_score_positive,
    high_value AS high_value_registrations,
    round(CAST(high_value AS double) / nullif(scored_registrations, 0), 4) AS share_high_value
FROM grouped
ORDER BY
    CASE dimension WHEN 'all' THEN 0 WHEN 'page_category' THEN 1 WHEN 'device' THEN 2 ELSE 3 END,
    registrations DESC,
    page_category,
    device,
    country_code
