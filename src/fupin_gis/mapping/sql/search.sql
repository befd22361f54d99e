-- Villages and townships whose name contains :q or whose code starts with it (:q has LIKE's
-- wildcards escaped), townships first, the shortest names first; 20 at most.
SELECT kind, code, name, parent,
       ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1
FROM (
    SELECT 'township' AS kind, code, name, NULL AS parent, geom FROM townships
    UNION ALL
    SELECT 'village', v.code, v.name, t.name, v.geom
    FROM villages v LEFT JOIN townships t ON t.code = left(v.code, 9)
) u
WHERE name LIKE '%' || :q || '%' OR code LIKE :q || '%'
ORDER BY kind DESC, length(name), code
LIMIT 20
