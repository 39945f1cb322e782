-- Question: at what hours and on which weekdays do users click out and register?
-- One row per weekday x hour (UTC) that saw any activity: clicks at that time (converted_at),
-- registrations_from_clicks (those clicks that led to a registration, whenever it happened),
-- registration_rate = registrations_from_clicks / clicks, and registrations_at_time = every partner
-- registration made at that time (registered_at), linked to a click or not.
-- weekday follows day_of_week(): 1 = Monday ... 7 = Sunday.
WITH clicks AS (
    SELECT
        day_of_week(converted_at) AS weekday,
        hour(converted_at) AS hour_utc,
        count(*) AS clicks,
        count_if(partner IS NOT NULL) AS registrations_from_clicks
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
      AND converted_at IS NOT NULL
    GROUP BY day_of_week(converted_at), hour(converted_at)
),
registrations AS (
    SELECT
        day_of_week(registered_at) AS weekday,
        hour(registered_at) AS hour_utc,
        count(*) AS registrations_at_time
    FROM unified_journeys
    WHERE partner IS NOT NULL
      AND registered_at IS NOT NULL
    GROUP BY day_of_week(registered_at), hour(registered_at)
),
joined AS (
    SELECT
        coalesce(c.weekday, r.weekday) AS weekday,
        coalesce(c.hour_utc, r.hour_utc) AS hour_utc,
        coalesce(c.clicks, 0) AS clicks,
        coalesce(c.registrations_from_clicks, 0) AS registrations_from_clicks,
        coalesce(r.registrations_at_time, 0) AS registrations_at_time
    FROM clicks AS c
    FULL OUTER JOIN registrations AS r
        ON r.weekday = c.weekday
       AND r.hour_utc = c.hour_utc
)
SELECT
    weekday,
    CASE weekday
        WHEN 1 THEN 'Mon' WHEN 2 THEN 'Tue' WHEN 3 THEN 'Wed' WHEN 4 THEN 'Thu'
        WHEN 5 THEN 'Fri' WHEN 6 THEN 'Sat' WHEN 7 THEN 'Sun'
    END AS weekday_name,
    hour_utc,
    clicks,
    registrations_from_clicks,
    round(CAST(registrations_from_clicks AS double) / nullif(clicks, 0), 4) AS registration_rate,
    registrations_at_time
FROM joined
ORDER BY weekday, hour_utc
