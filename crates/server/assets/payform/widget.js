/* The widget's last page: tell the merchant's page how the payment ended, as ePay's page
 * does: JSON.stringify({success: true|false}) to the parent, at the origin the widget may be
 * framed by (the page's frame-ancestors). */
(function () {
  "use strict";
  var result = document.getElementById("payform-result");
  var origin = result && result.getAttribute("data-parent-origin");
  if (!result || !origin || window.parent === window) return;
  var success = result.getAttribute("data-success") === "true";
  window.parent.postMessage(JSON.stringify({ success: success }), origin);
})();
