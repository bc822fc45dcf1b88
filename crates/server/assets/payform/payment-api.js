/* Aqsha's payment-api.js: ePay's merchant script (docs/payform.md). Served at
 * /payform/payment-api.js after the vendored lz-string, which defines LZString. The page it
 * opens is on the host this script was loaded from, so a merchant switches from ePay by
 * changing the script's host only. */
(function (global) {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src) : new URL(global.location.href);
  var pageOrigin = base.origin;
  var pageUrl = pageOrigin + "/payform/";

  /* ePay's encoding: name=encodeURIComponent(value) joined by "&"; an object (the auth
   * token object) is encoded the same way first. */
  function encodeParams(params) {
    var parts = [];
    Object.keys(params).forEach(function (name) {
      var value = params[name];
      if (value === undefined || value === null) return;
      var text = typeof value === "object" ? encodeParams(value) : String(value);
      parts.push(name + "=" + encodeURIComponent(text));
    });
    return parts.join("&");
  }

  function urlFor(params, flag) {
    var url = pageUrl + "?params=" + LZString.compressToEncodedURIComponent(encodeParams(params));
    return flag ? url + "&" + flag + "=true" : url;
  }

  function go(flag) {
    return function (params) { global.location.href = urlFor(params, flag); };
  }

  /* The widget: the page in an iframe over the merchant's page; the page posts
   * '{"success":true|false}' to its parent when it is done. */
  function showPaymentWidget(params, callback) {
    var overlay = document.createElement("div");
    overlay.setAttribute("data-halyk-widget", "");
    var s = overlay.style;
    s.position = "fixed"; s.inset = "0"; s.zIndex = "2147483647";
    s.background = "rgba(0,0,0,0.5)"; s.display = "flex";
    s.alignItems = "center"; s.justifyContent = "center";
    var frame = document.createElement("iframe");
    frame.title = "Payment";
    frame.src = urlFor(params, "isTransfer") + "&isShortForm=true";
    var f = frame.style;
    f.width = "min(420px, 100vw)"; f.height = "min(640px, 100vh)";
    f.border = "0"; f.borderRadius = "12px"; f.background = "#fff";
    overlay.appendChild(frame);
    document.body.appendChild(overlay);
    function onMessage(event) {
      if (event.origin.indexOf(pageOrigin) !== 0 || event.source !== frame.contentWindow) return;
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      global.removeEventListener("message", onMessage);
      overlay.remove();
      if (typeof callback === "function") callback({ success: data && data.success === true });
    }
    global.addEventListener("message", onMessage);
  }

  global.halyk = {
    pay: go(null),
    p2p: go("isTransfer"),
    aft: go("isAFT"),
    oct: go("isOCT"),
    showPaymentWidget: showPaymentWidget,
    encodeParams: encodeParams
  };
})(window);
