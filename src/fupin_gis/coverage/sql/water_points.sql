-- Safe, working, built water points in the metric CRS (rule 2).
SELECT w.id, w.code, w.kind, ST_X(p) AS x, ST_Y(p) AS y
FROM water_points w, LATERAL ST_Transform(w.geom, :srid) AS p
WHERE coalesce(w.safe, false) AND coalesce(w.working, true) AND w.status = ANY(:built)
ORDER BY w.id
