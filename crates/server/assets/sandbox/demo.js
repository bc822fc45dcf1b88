/* The sandbox demo shop (pages/demo.rs): reads its params from the page's JSON block and
 * calls payment-api.js, as a merchant's page would. */
(function () {
  "use strict";
  var params = JSON.parse(document.getElementById("demo-params").textContent);
  document.getElementById("pay-p2p").addEventListener("click", function () {
    halyk.p2p(params);
  });
  document.getElementById("pay-widget").addEventListener("click", function () {
    halyk.showPaymentWidget(params, function (result) {
      document.getElementById("widget-result").textContent =
        "widget: " + JSON.stringify(result);
    });
  });
})();
