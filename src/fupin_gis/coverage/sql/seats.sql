-- Village and township seats in the metric CRS; a unit without a seat point uses a point on its area.
SELECT 'village' AS kind, v.code, left(v.code, 9) AS township, v.name,
       ST_X(p) AS x, ST_Y(p) AS y
FROM villages v, LATERAL ST_Transform(coalesce(v.seat, ST_PointOnSurface(v.geom)), :srid) AS p
UNION ALL
SELECT 'township', t.code, NULL, t.name, ST_X(p), ST_Y(p)
FROM townships t, LATERAL ST_Transform(coalesce(t.seat, ST_PointOnSurface(t.geom)), :srid) AS p
ORDER BY 1 DESC, 2
