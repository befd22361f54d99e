-- Road parts in the metric CRS, with whether each counts for village access (rule 1).
SELECT r.id,
       ST_AsBinary((ST_Dump(ST_Transform(r.geom, :srid))).geom) AS wkb,
       r.surface = 'hardened'
         AND coalesce(r.width_m >= :min_width, :unknown_width_ok)
         AND r.status = ANY(:built) AS usable,
       coalesce(r.structure IN ('bridge', 'tunnel'), false) AS crossing_free
FROM roads r
WHERE r.geom IS NOT NULL
ORDER BY r.id
