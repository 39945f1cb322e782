-- Question: how do desktop and mobile clicks convert into registrations in our biggest markets?
-- Clicks, registrations and registration_rate by device (is_mobile) within each of the top_countries
-- countries by clicks (country_code, ISO alpha-2, of the click); every smaller country is pooled
-- into '(other)', a missing country shows as '(unknown)'. device_share_in_country is the device's
-- share of that country's clicks. country_rank 1 = most clicks; '(other)' ranks last.
WITH params AS (
    SELECT 10 AS top_countries
),
clicks AS (
    SELECT
        CASE WHEN is_mobile THEN 'mobile' WHEN NOT is_mobile THEN 'desktop' ELSE '(unknown)' END AS device,
        coalesce(country_code, '(unknown)') AS country_code,
        partner IS NOT NULL AS registered
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
),
country_ranks AS (
    SELECT
        country_code,
        row_number() OVER (ORDER BY count(*) DESC, country_code) AS country_rank
    FROM clicks
    GROUP BY country_code
),
grouped AS (
    SELECT
        CASE WHEN r.country_rank <= p.top_countries THEN r.country_rank ELSE p.top_countries + 1 END AS country_rank,
        CASE WHEN r.country_rank <= p.top_countries THEN c.country_code ELSE '(other)' END AS country,
        c.device,
        c.registered
    FROM clicks AS c
    JOIN country_ranks AS r ON r.country_code = c.country_code
    CROSS JOIN params AS p
)
SELECT
    country_rank,
    country,
    device,
    count(*) AS clicks,
    count_if(registered) AS registrations,
    round(CAST(count_if(registered) AS double) / count(*), 4) AS registration_rate,
    round(CAST(count(*) AS double) / sum(count(*)) OVER (PARTITION BY country), 4) AS device_share_in_country
FROM grouped
GROUP BY country_rank, country, device
ORDER BY country_rank, device
