// fupin-gis map: styles and popups of the vector tile layers, from the catalog (window.FUPIN).
(function () {
  "use strict";
  var F = window.FUPIN;

  // Leaflet path options for a feature: by the raw value of the field the layer is styled by; the
  // coverage villages by their class in the rule chosen in the legend (F.rule).
  F.rule = "road";
  window.fupinStyle = function (layer) {
    var spec = F.layers[layer], style = spec.style;
    if (spec.rules) {
      return function (properties) {
        var rule = spec.rules[F.rule];
        return rule.values[properties[rule.field]] || style.base;
      };
    }
    return function (properties) {
      return style.values[properties._s] || style.base;
    };
  };

  var esc = window.fupinEsc;  // from fupin.js, loaded first

  // Chinese first; the EN button switches popups to English (remembered in this browser).
  var english = false;
  try { english = localStorage.getItem("fupin-lang") === "en"; } catch (e) { english = false; }

  function shown(field, value) {
    if (value === undefined || value === null || value === "") return "";
    if (field.type === "boolean") return value === true || value === "true" ? (english ? "yes" : "是") : (english ? "no" : "否");
    var labels = english && field.labels_en ? field.labels_en : field.labels;
    if (labels && labels[value] !== undefined) return labels[value];
    if (typeof value === "number") return Math.round(value * 100) / 100;
    return value;
  }

  // Feature ids unique across layers and tiles: VectorGrid files each drawn feature under its id
  // together with the MVT layer it came from, which the popup needs.
  // The feature's own id (its row in the layer) is kept as _id for the popup's link to its page.
  var nextId = 0;
  window.fupinFeatureId = function (feature) {
    if (feature && feature.properties && feature.id !== undefined) feature.properties._id = feature.id;
    return ++nextId;
  };

  // A click is answered by the smallest feature under the pointer across the visible layers (a
  // point before the road it sits on, a village before its planning area); the tile canvases let
  // clicks through, so a layer above does not hide the ones below.
  var grids = [];
  function listen(grid, map) {
    patchZoomOffset();
    grids.push(grid);
    if (map._fupinClick) return;
    map._fupinClick = true;
    map.on("click", function (e) {
      var best = null, bestSize = Infinity;
      grids.forEach(function (g) {
        if (!map.hasLayer(g)) return;
        featuresAt(g, map, e.latlng).forEach(function (hit) {
          var b = hit.feature._pxBounds, size = b ? (b.max.x - b.min.x + 1) * (b.max.y - b.min.y + 1) : 0;
          if (size < bestSize) { best = hit; bestSize = size; }
        });
      });
      if (best) popup(best.feature, best.layerName, map, e.latlng);
    });
  }
  window.fupinRegister = function (layer, grid, map) { listen(grid, map); };

  // The catalog layers share one vector tile layer: the layer control's entries (empty groups)
  // say which layers it asks the server for; switching one changes the tile URL.
  var groups = [];
  window.fupinGroup = function (name, group, minZoom) { groups.push([name, group, minZoom]); };
  window.fupinAll = function (grid, map, query) {
    var current = null;
    function update() {
      var z = map.getZoom();
      var names = groups.filter(function (g) { return map.hasLayer(g[1]) && z >= g[2]; })
        .map(function (g) { return g[0]; }).join(",");
      if (names === current) return;
      current = names;
      if (!names) { if (map.hasLayer(grid)) map.removeLayer(grid); return; }
      grid.setUrl("/tiles/all/{z}/{x}/{y}.mvt?layers=" + names + query, !map.hasLayer(grid));
      if (!map.hasLayer(grid)) grid.addTo(map);
    }
    map.on("overlayadd overlayremove zoomend", update);
    listen(grid, map);
    update();
  };

  // The layers use 512-pixel tiles with zoomOffset -1 (a quarter of the requests); VectorGrid 1.3
  // ignores zoomOffset when it builds the URL, so the zoom is corrected here.
  function patchZoomOffset() {
    var proto = L.VectorGrid.Protobuf.prototype;
    if (proto._fupinPatched) return;
    var original = proto._getVectorTilePromise;
    proto._getVectorTilePromise = function (coords) {
      var offset = this.options.zoomOffset || 0;
      if (!offset) return original.call(this, coords);
      var shifted = L.point(coords.x, coords.y);
      shifted.z = coords.z + offset;
      return original.call(this, shifted);
    };
    proto._fupinPatched = true;
  }

  function featuresAt(grid, map, latlng) {
    var z = grid._tileZoom;
    if (z === undefined) return [];
    var coords = map.project(latlng, z).unscaleBy(grid.getTileSize()).floor();
    coords.z = z;
    var renderer = grid._vectorTiles[grid._tileCoordsToKey(coords)];
    if (!renderer) return [];
    var point = map.latLngToLayerPoint(latlng).subtract(renderer.getOffset());
    var found = [];
    for (var id in renderer._features) {
      var entry = renderer._features[id];
      if (entry.feature._containsPoint && entry.feature._containsPoint(point)) found.push(entry);
    }
    return found;
  }

  // A popup with the catalog's Chinese labels; at low zoom the tiles carry only the style value.
  function popup(feature, layer, map, latlng) {
    var spec = F.layers[layer];
    var p = feature.properties || {};
    var rows = "";
    spec.popup.forEach(function (f) {
      if (f.name in p) rows += "<tr><th>" + esc(english && f.en ? f.en : f.label) + "</th><td>" + esc(shown(f, p[f.name])) + "</td></tr>";
    });
    if (!rows || (spec.popup.length > 1 && Object.keys(p).length <= 2)) rows += '<tr><td colspan="2">' + esc(F.zoomHint) + "</td></tr>";
    if ((layer === "coverage" || layer === "villages") && /^\d{12}$/.test(p.code || "")) {
      rows += '<tr><td colspan="2"><a href="/villages/' + p.code + '">村页面 / village page →</a></td></tr>';
    }
    if (layer !== "coverage" && p._id !== undefined) {  // a feature of the layer (overview pieces have no id)
      rows += '<tr><td colspan="2"><a class="feature-link" href="/layers/' + layer + "/features/" + p._id + '">详情与编辑 / details and edit →</a></td></tr>';
    }
    L.popup({ maxWidth: 360 })
      .setLatLng(latlng)
      .setContent('<div class="fupin-popup"><b>' + esc(english && spec.en ? spec.en : spec.label) + "</b><table>" + rows + "</table></div>")
      .openOn(map);
  }

  // Search a village or township by name or code; a result zooms the map to it.
  function mapOf() {
    return Object.values(window).find(function (v) { return v instanceof L.Map; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var chooser = document.getElementById("coverage-rule");
    if (chooser) chooser.addEventListener("change", function () {
      F.rule = chooser.value;
      Array.prototype.forEach.call(document.querySelectorAll("#coverage-legend .rule"), function (row) {
        row.hidden = row.dataset.rule !== F.rule;
      });
      grids.forEach(function (g) { if (g.options.vectorTileLayerStyles.coverage) g.redraw(); });
    });
    var lang = document.getElementById("lang");
    if (lang) {
      lang.textContent = english ? "中文" : "EN";
      lang.addEventListener("click", function () {
        english = !english;
        try { localStorage.setItem("fupin-lang", english ? "en" : "zh"); } catch (e) { /* private mode */ }
        lang.textContent = english ? "中文" : "EN";
        mapOf().closePopup();
      });
    }
    var out = document.getElementById("signout");
    if (out) out.addEventListener("click", function (e) {
      e.preventDefault();
      fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": fupinCsrf() } }).then(function () { location.href = "/login"; });
    });
    var input = document.getElementById("search-q"), list = document.getElementById("search-results");
    if (!input) return;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (!q) { list.innerHTML = ""; return; }
        fetch("/api/search?q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (rows) {
          list.innerHTML = "";
          if (!Array.isArray(rows) || !rows.length) { list.innerHTML = '<div class="none">无结果 / no match</div>'; return; }
          rows.forEach(function (r) {
            var item = document.createElement("div");
            item.className = "hit";
            item.innerHTML = '<span class="name">' + esc(r.name) + ' <small>' + esc(r.kind === "village" ? (r.township || "") + " 村 " : "乡镇 ") + esc(r.code) + "</small></span>" +
              (r.kind === "village" ? ' <a href="/villages/' + esc(r.code) + '">村页面</a>' : "");
            item.addEventListener("click", function (ev) {
              if (ev.target.tagName === "A") return;
              mapOf().fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]]);
            });
            list.appendChild(item);
          });
        });
      }, 200);
    });
  });
})();
