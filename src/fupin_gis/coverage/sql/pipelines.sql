-- Built supply pipelines in the metric CRS (piped supply counts as water access).
SELECT ST_AsBinary((ST_Dump(ST_Transform(geom, :srid))).geom) AS wkb
FROM water_lines WHERE kind = 'supply_pipeline' AND status = ANY(:built)
