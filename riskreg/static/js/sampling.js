// Sample plan page: show only the fieldset of the chosen method. Without JS all are shown.
(function () {
  "use strict";
  var select = document.getElementById("method");
  if (!select) { return; }
  var sets = document.querySelectorAll("fieldset[data-method]");
  function update() {
    sets.forEach(function (set) {
      set.hidden = set.getAttribute("data-method") !== select.value;
    });
  }
  select.addEventListener("change", update);
  update();
})();
