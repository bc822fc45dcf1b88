// The 3-D Secure return page (pages/acs.rs): sends the ACS's result on to TermUrl at once.
// Without JavaScript the form's own button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("secure3d-return");
  if (form) {
    form.submit();
  }
});
