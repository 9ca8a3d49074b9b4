// Worksheet keyboard conveniences. Without JS the page is a plain form that works the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-worksheet]");
  if (!form) { return; }
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-worksheet-row]"));
  var help = document.querySelector("[data-worksheet-help]");
  if (help) { help.hidden = false; }
  var selectAll = form.querySelector("input[data-select-all]");
  if (selectAll) {
    selectAll.hidden = false;
    selectAll.addEventListener("change", function () {
      form.querySelectorAll("input[name=select]").forEach(function (box) {
        box.checked = selectAll.checked;
      });
    });
  }
  function focusRow(index) {
    var row = rows[index];
    if (!row) { return; }
    var target = row.querySelector("select") || row.querySelector("input[name=select]");
    if (target) { target.focus(); }
  }
  function allOk(row) {
    row.querySelectorAll("select").forEach(function (select) { select.value = "ok"; });
  }
  form.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit(form.querySelector("[data-worksheet-save]"));
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var row = event.target.closest("tr[data-worksheet-row]");
    if (!row) { return; }
    var index = rows.indexOf(row);
    var key = event.key.toLowerCase();
    if (key === "o" && !event.shiftKey) {
      event.preventDefault();
      allOk(row);
      focusRow(index + 1);
    } else if (key === "j") {
      event.preventDefault();
      focusRow(index + 1);
    } else if (key === "k") {
      event.preventDefault();
      focusRow(index - 1);
    }
  });
})();
