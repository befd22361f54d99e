// fupin-gis pages: what every page's scripts share.
(function () {
  "use strict";
  // The CSRF token the server set in a cookie at sign-in: unsafe requests echo it in X-CSRF-Token.
  window.fupinCsrf = function () {
    return (document.cookie.match(/(?:^|; )fupin_csrf=([^;]*)/) || [])[1] || "";
  };
  // Text made safe to put in HTML.
  window.fupinEsc = function (value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  };
  // For orientation on a page's small map: catalog layers from the app's own tiles, drawn in grey
  // (``layers``: name -> line weight).
  window.fupinContext = function (map, layers) {
    var styles = {};
    Object.keys(layers).forEach(function (name) {
      styles[name] = { color: "#757575", weight: layers[name], opacity: 1, fill: false, radius: 3 };
    });
    return L.vectorGrid.protobuf("/tiles/all/{z}/{x}/{y}.mvt?layers=" + Object.keys(layers).join(","), {
      rendererFactory: L.canvas.tile, maxNativeZoom: 18, vectorTileLayerStyles: styles
    }).addTo(map);
  };
})();
