// The fact form shows every possible fact's fields (so it works without JavaScript);
// with it, only the fields of the fact chosen in "Hva skjedde" are shown, and only they
// are sent (a disabled fieldset's fields are not).
(function () {
  var form = document.getElementById("fact-form");
  if (!form) return;
  var select = document.getElementById("fact-fact");
  function show() {
    var chosen = select.value;
    form.querySelectorAll("fieldset.fact-fields").forEach(function (fs) {
      var facts = (fs.getAttribute("data-facts") || "").trim().split(/\s+/);
      fs.hidden = fs.disabled = facts.indexOf(chosen) < 0;
    });
  }
  select.addEventListener("change", show);
  show();
})();
