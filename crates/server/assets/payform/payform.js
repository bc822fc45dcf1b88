/* The hosted form's live checks (docs/payform.md): Luhn, expiry, CVC length and the brand,
 * as the payer types. The messages come from the form's data-msg-* attributes, written by
 * the server from the same table it checks with (pages/payform/words.rs): the server is the
 * authority, this only says it sooner. Nothing typed is stored anywhere. */
(function () {
  "use strict";
  var form = document.getElementById("payform");
  if (!form) return;
  form.noValidate = true;
  var msg = function (key) { return form.getAttribute("data-msg-" + key) || ""; };
  var digits = function (v) { return v.replace(/\D/g, ""); };

  function luhn(n) {
    var sum = 0;
    for (var i = 0; i < n.length; i++) {
      var d = n.charCodeAt(n.length - 1 - i) - 48;
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function brand(n) {
    var p2 = +n.slice(0, 2), p4 = +n.slice(0, 4);
    if (/^4/.test(n)) return "VISA";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "MasterCard";
    if (p2 === 34 || p2 === 37) return "AMEX";
    if (p4 >= 2200 && p4 <= 2204) return "MIR";
    if (p2 === 62) return "UnionPay";
    return "";
  }

  var checks = {
    number: function (input) {
      var n = digits(input.value);
      if (n.length < 12 || n.length > 19) return msg("number");
      return luhn(n) ? "" : msg("luhn");
    },
    expiry: function (input) {
      var d = digits(input.value);
      if (d.length === 6) d = d.slice(0, 2) + d.slice(4);
      if (d.length !== 4) return msg("expiry");
      var m = +d.slice(0, 2);
      return m >= 1 && m <= 12 ? "" : msg("expiry");
    },
    cvc: function (input) {
      var num = document.getElementById(input.getAttribute("data-number"));
      var want = num && brand(digits(num.value)) === "AMEX" ? 4 : 3;
      return new RegExp("^\\d{" + want + "}$").test(input.value.trim()) ? "" : msg("cvc");
    },
    holder: function (input) {
      var v = input.value.trim();
      return v && /^[A-Za-z .'\-]+$/.test(v) ? "" : msg("holder");
    }
  };

  function show(input, text) {
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    if (out) out.textContent = text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function check(input) {
    var text = checks[input.getAttribute("data-check")](input);
    show(input, text);
    return !text;
  }

  var inputs = Array.prototype.slice.call(form.querySelectorAll("[data-check]"));
  inputs.forEach(function (input) {
    var kind = input.getAttribute("data-check");
    input.addEventListener("input", function () {
      if (kind === "number") {
        var n = digits(input.value).slice(0, 19);
        input.value = n.replace(/(\d{4})(?=\d)/g, "$1 ");
        var b = document.getElementById(input.getAttribute("data-brand"));
        if (b) b.textContent = brand(n);
      } else if (kind === "expiry") {
        var d = digits(input.value).slice(0, 4);
        input.value = d.length > 2 ? d.slice(0, 2) + "/" + d.slice(2) : d;
      } else if (kind === "cvc") {
        input.value = digits(input.value).slice(0, 4);
      }
      if (input.hasAttribute("aria-invalid")) check(input);
    });
    input.addEventListener("blur", function () { if (input.value) check(input); });
  });

  form.addEventListener("submit", function (event) {
    var bad = inputs.filter(function (input) { return !check(input); });
    if (bad.length) {
      event.preventDefault();
      bad[0].focus();
      return;
    }
    /* One post per attempt: a second click would only replay the first's answer. */
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
  });
})();
