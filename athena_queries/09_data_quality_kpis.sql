-- Question: is the pipeline healthy? How well do registrations and clicks get linked, per partner and
-- day, and how many input rows were rejected, by source, rule and day?
-- One long table, one row per KPI value:
--   kpi = 'registration_link_rate': per partner and registration day (registered_at), numerator =
--         registrations linked to a click, denominator = all the partner's registrations.
--   kpi = 'click_link_rate': per day (the dt partition of the clicks), subject '(all)', numerator =
--         clicks linked to a registration, denominator = clicks.
--   kpi = 'quarantined_rows': per source, rule and day (the quarantine's dt partition), numerator =
--         rows rejected; denominator and rate are null.
-- rate = numerator / denominator. A falling link rate or a jump in quarantined rows is the alarm.
WITH registration_link AS (
    SELECT
        'registration_link_rate' AS kpi,
        CAST(registered_at AS date) AS day,
        partner AS subject,
        CAST(NULL AS varchar) AS rule,
        count_if(conversion_id IS NOT NULL) AS numerator,
        count(*) AS denominator
    FROM unified_journeys
    WHERE partner IS NOT NULL
    GROUP BY CAST(registered_at AS date), partner
),
click_link AS (
    SELECT
        'click_link_rate' AS kpi,
        CAST(dt AS date) AS day,
        '(all)' AS subject,
        CAST(NULL AS varchar) AS rule,
        count_if(partner IS NOT NULL) AS numerator,
        count(*) AS denominator
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
    GROUP BY CAST(dt AS date)
),
quarantined AS (
    SELECT
        'quarantined_rows' AS kpi,
        CAST(dt AS date) AS day,
        source AS subject,
        rule,
        count(*) AS numerator,
        CAST(NULL AS bigint) AS denominator
    FROM quarantine
    GROUP BY CAST(dt AS date), source, rule
),
all_kpis AS (
    SELECT * FROM registration_link
    UNION ALL
    SELECT * FROM click_link
    UNION ALL
    SELECT * FROM quarantined
)
SELECT
    kpi,
    day,
    subject,
    rule,
    numerator,
    denominator,
    round(CAST(numerator AS double) / nullif(denominator, 0), 4) AS rate
FROM all_kpis
ORDER BY kpi, day, subject, rule
