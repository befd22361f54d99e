-- The households of run :r in area :a (a code prefix and %) that miss something: safe water within
-- reach, an all-season road within 2 km, or a household check; with their village's name.
SELECT h.code, h.village_code, v.name AS village, h.members, h.water_ok, h.near_road, h.missing
FROM coverage_households h
LEFT JOIN coverage_villages v ON v.run_id = h.run_id AND v.code = h.village_code
WHERE h.run_id = :r AND h.village_code LIKE :a
  AND (NOT h.water_ok OR NOT h.near_road OR cardinality(h.missing) > 0)
ORDER BY h.village_code, h.code
