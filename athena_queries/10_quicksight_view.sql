-- Question: what flat, self-explaining dataset should QuickSight (or any BI tool) read?
-- Creates the view journeys_for_quicksight: every unified_journeys row with derived columns ready to
-- slice and sum without calculated fields. Flags are 0/1 integers (QuickSight sums them into counts
-- and averages them into rates): click_flag, registered_flag (a partner registration is on the row),
-- linked_flag (a click with its registration), high_value_flag (important_score >= 50; 0 when the
-- score is junk), cross_country_flag (ip_country_code <> country_code). Also: journey_date
-- (CAST(dt AS date)), journey_type, device label, click hour (UTC) and ISO weekday, score band and
-- the delay bucket of query 04.
CREATE OR REPLACE VIEW journeys_for_quicksight AS
SELECT
    CAST(dt AS date) AS journey_date,
    CASE
        WHEN conversion_id IS NULL THEN 'registration without click'
        WHEN partner IS NULL THEN 'click without registration'
        ELSE 'click with registration'
    END AS journey_type,
    conversion_id,
    session_id,
    partner,
    coalesce(page_category, '(unmapped)') AS page_category,
    ui_element,
    measurement_category,
    CASE WHEN is_mobile THEN 'mobile' WHEN NOT is_mobile THEN 'desktop' END AS device,
    country_code,
    ip_country_code,
    residency_country_code,
    converted_at,
    registered_at,
    hour(converted_at) AS click_hour_utc,
    day_of_week(converted_at) AS click_weekday,
    CASE day_of_week(converted_at)
        WHEN 1 THEN '1 Mon' WHEN 2 THEN '2 Tue' WHEN 3 THEN '3 Wed' WHEN 4 THEN '4 Thu'
        WHEN 5 THEN '5 Fri' WHEN 6 THEN '6 Sat' WHEN 7 THEN '7 Sun'
    END AS click_weekday_name,
    registration_delay_s,
    CASE
        WHEN registration_delay_s IS NULL THEN NULL
        WHEN registration_delay_s < 0 THEN 'negative (before click)'
        WHEN registration_delay_s < 5 THEN '0-5 s'
        WHEN registration_delay_s < 15 THEN '5-15 s'
        WHEN registration_delay_s < 60 THEN '15-60 s'
        WHEN registration_delay_s < 300 THEN '1-5 min'
        WHEN registration_delay_s < 900 THEN '5-15 min'
        WHEN registration_delay_s < 3600 THEN '15-60 min'
        WHEN registration_delay_s < 21600 THEN '1-6 h'
        WHEN registration_delay_s < 86400 THEN '6-24 h'
        WHEN registration_delay_s < 259200 THEN '1-3 days'
        ELSE '3+ days'
    END AS delay_bucket,
    important_score,
    CASE
        WHEN important_score IS NULL THEN NULL
        WHEN important_score >= 50 THEN 'high (50-100)'
        WHEN important_score > 0 THEN 'low (1-49)'
        ELSE 'zero'
    END AS score_band,
    CASE WHEN conversion_id IS NOT NULL THEN 1 ELSE 0 END AS click_flag,
    CASE WHEN partner IS NOT NULL THEN 1 ELSE 0 END AS registered_flag,
    CASE WHEN conversion_id IS NOT NULL AND partner IS NOT NULL THEN 1 ELSE 0 END AS linked_flag,
    CASE WHEN important_score >= 50 THEN 1 ELSE 0 END AS high_value_flag,
    CASE WHEN ip_country_code <> country_code THEN 1 ELSE 0 END AS cross_country_flag,
    match_confidence,
    match_rule,
    dt
FROM unified_journeys
