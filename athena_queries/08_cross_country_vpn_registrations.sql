-- Question: how many registrations come from an IP address in another country than the click
-- (a VPN, travel, or a wrong country on our side), and in which markets?
-- For registrations linked to a click, per click country_code plus an '(all)' total row:
-- comparable = registrations where both the click's country_code and the partner's ip_country_code
-- are known; ip_differs = those where ip_country_code <> country_code; cross_country_share =
-- ip_differs / comparable. The same for the partner's residency_country_code against the IP country
-- (residency_comparable, residency_differs, residency_vs_ip_share).
WITH registrations AS (
    SELECT country_code, ip_country_code, residency_country_code
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
      AND partner IS NOT NULL
      AND country_code IS NOT NULL
),
grouped AS (
    SELECT
        CASE WHEN grouping(country_code) = 1 THEN '(all)' ELSE country_code END AS country_code,
        grouping(country_code) AS is_total,
        count(*) AS registrations,
        count_if(ip_country_code IS NOT NULL) AS comparable,
        count_if(ip_country_code <> country_code) AS ip_differs,
        count_if(ip_country_code IS NOT NULL AND residency_country_code IS NOT NULL) AS residency_comparable,
        count_if(residency_country_code <> ip_country_code) AS residency_differs
    FROM registrations
    GROUP BY GROUPING SETS ((country_code), ())
)
SELECT
    country_code,
    registrations,
    comparable,
    ip_differs,
    round(CAST(ip_differs AS double) / nullif(comparable, 0), 4) AS cross_country_share,
    residency_comparable,
    residency_differs,
    round(CAST(residency_differs AS double) / nullif(residency_comparable, 0), 4) AS residency_vs_ip_share
FROM grouped
ORDER BY is_total DESC, registrations DESC, country_code
