// Min side: a «Kopier adressen» button next to a read-only field (the field alone works
// without JavaScript: select it and copy). The result is announced in a status line.
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    if (!field) return;
    button.hidden = false;
    field.addEventListener("focus", function () { field.select(); });
    button.addEventListener("click", function () {
      field.select();
      var done = function (ok) {
        if (status) status.textContent = ok ? "Adressen er kopiert." :
          "Kunne ikke kopiere. Merk feltet og kopier selv.";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () { done(true); },
                                                        function () { done(false); });
      } else {
        try { done(document.execCommand("copy")); } catch (e) { done(false); }
      }
    });
  });
})();
