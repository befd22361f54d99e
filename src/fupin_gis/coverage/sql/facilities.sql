-- Village facilities by kind: how many, how many meet the standard (rule 4).
SELECT village_code, kind, count(*) AS n, count(*) FILTER (WHERE coalesce(meets_standard, false)) AS standard
FROM facilities WHERE status = ANY(:built) AND village_code IS NOT NULL
GROUP BY village_code, kind
