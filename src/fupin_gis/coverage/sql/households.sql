-- Households in the metric CRS (points), with members as the population weight.
SELECT h.id, h.village_code, coalesce(h.members, 1) AS members, ST_X(p) AS x, ST_Y(p) AS y
FROM households h, LATERAL ST_Transform(h.geom, :srid) AS p
ORDER BY h.id
