/* 3-D Secure hand-off: post MD, PaReq and TermUrl to the ACS at once. Without JavaScript the
 * page shows its Continue button instead. */
(function () {
  "use strict";
  var form = document.getElementById("acs-form");
  if (form) form.submit();
})();
