-- Question: how long after the click do users register at the partner?
-- Linked registrations (a click with a partner registration and a known registration_delay_s) counted
-- per delay bucket, with the bucket's share, the cumulative share up to and including the bucket and
-- the min / avg / max delay inside it. Every bucket is listed, empty ones with 0. A negative delay
-- means the partner's clock put the registration before the click. overall_p50_delay_s and
-- overall_p90_delay_s are approximate percentiles over all linked registrations (same on every row).
-- Buckets: lower bound inclusive, upper bound exclusive; most linked registrations come within a
-- minute of the click, hence the finer buckets there.
WITH delays AS (
    SELECT registration_delay_s AS delay_s
    FROM unified_journeys
    WHERE conversion_id IS NOT NULL
      AND partner IS NOT NULL
      AND registration_delay_s IS NOT NULL
),
bucketed AS (
    SELECT
        delay_s,
        CASE
            WHEN delay_s < 0 THEN 0
            WHEN delay_s < 5 THEN 1
            WHEN delay_s < 15 THEN 2
            WHEN delay_s < 60 THEN 3
            WHEN delay_s < 300 THEN 4
            WHEN delay_s < 900 THEN 5
            WHEN delay_s < 3600 THEN 6
            WHEN delay_s < 21600 THEN 7
            WHEN delay_s < 86400 THEN 8
            WHEN delay_s < 259200 THEN 9
            ELSE 10
        END AS bucket_order
    FROM delays
),
buckets AS (
    SELECT bucket_order, bucket
    FROM (
        VALUES
            (0, 'negative (before click)'),
            (1, '0-5 s'),
            (2, '5-15 s'),
            (3, '15-60 s'),
            (4, '1-5 min'),
            (5, '5-15 min'),
            (6, '15-60 min'),
            (7, '1-6 h'),
            (8, '6-24 h'),
            (9, '1-3 days'),
            (10, '3+ days')
    ) AS b (bucket_order, bucket)
),
overall AS (
    SELECT
        count(*) AS linked_registrations,
        approx_percentile(delay_s, 0.5) AS p50,
        approx_percentile(delay_s, 0.9) AS p90
    FROM delays
)
SELECT
    b.bucket_order,
    b.bucket,
    count(x.delay_s) AS registrations,
    round(CAST(count(x.delay_s) AS double) / nullif(o.linked_registrations, 0), 4) AS share,
    round(
        sum(CAST(count(x.delay_s) AS double)) OVER (ORDER BY b.bucket_order)
        / nullif(o.linked_registrations, 0),
        4
    ) AS cumulative_share,
    min(x.delay_s) AS min_delay_s,
    round(avg(x.delay_s), 1) AS avg_delay_s,
    max(x.delay_s) AS max_delay_s,
    round(o.p50, 1) AS overall_p50_delay_s,
    round(o.p90, 1) AS overall_p90_delay_s
FROM buckets AS b
LEFT JOIN bucketed AS x ON x.bucket_order = b.bucket_order
CROSS JOIN overall AS o
GROUP BY b.bucket_order, b.bucket, o.linked_registrations, o.p50, o.p90
ORDER BY b.bucket_order
