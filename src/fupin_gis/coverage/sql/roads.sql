-- Roads as stored (metric transformation in numpy: see load_roads), with whether each counts for
-- village access (rule 1) and crosses others without a junction (bridge or tunnel).
SELECT r.id,
       ST_AsBinary(r.geom) AS wkb,
       ST_SRID(r.geom) AS srid,
       r.surface = 'hardened'
         AND coalesce(r.width_m >= :min_width, :unknown_width_ok)
         AND r.status = ANY(:built) AS usable,
       coalesce(r.structure IN ('bridge', 'tunnel'), false) AS crossing_free
FROM roads r
WHERE r.geom IS NOT NULL AND (CAST(:ids AS bigint[]) IS NULL OR r.id = ANY(CAST(:ids AS bigint[])))
ORDER BY r.id
