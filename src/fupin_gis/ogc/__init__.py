"""OGC API Features (Parts 1–4) and Tiles over the registry, for QGIS, GDAL/OGR and OWSLib.

The core knows nothing of HTTP: it reads the catalog, builds bound SQL and documents, and raises
the domain errors of :mod:`fupin_gis.errors`; ``api/routes/ogc*.py`` are the thin edges.

- :mod:`.crs` the coordinate reference systems a collection is offered in, with their axis order;
- :mod:`.cql` CQL2 (text, JSON, and GDAL's ``cql-text``) walked against the catalog into bound SQL;
- :mod:`.sql` the identifier quoting helper and bound SQL fragments;
- :mod:`.query` the items query: filters, keyset paging, the features built in SQL;
- :mod:`.cursor` signed paging cursors;
- :mod:`.pages` one page of features, counted once and streamed;
- :mod:`.documents` landing page, conformance, collections, queryables, schema;
- :mod:`.openapi` the OpenAPI 3.0 document generated from the catalog;
- :mod:`.tiles` tile matrix sets, tilesets, TileJSON and a MapLibre style per layer.
"""
