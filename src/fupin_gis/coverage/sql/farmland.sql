-- Slope farmland per village and grade, in mu of measured (geodesic) area (rule 5).
SELECT village_code, slope_grade,
       sum(ST_Area(geom::geography)) / 666.6667 AS mu,
       sum(ST_Area(geom::geography)) FILTER (WHERE conversion IN ('forest', 'grass')) / 666.6667 AS converted_mu
FROM slope_farmland WHERE village_code IS NOT NULL
GROUP BY village_code, slope_grade
