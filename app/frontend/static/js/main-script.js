// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    // Dismissable flash messages.
    document.querySelectorAll(".flash-close").forEach(function (button) {
      button.addEventListener("click", function () {
        var flash = button.closest(".flash");
        if (flash) {
          flash.remove();
        }
      });
    });

    // Changing the category filter applies it at once.
    document.querySelectorAll("select.auto-submit").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) {
          select.form.submit();
        }
      });
    });

    // One click places one order: disable the button while the form is being sent.
    document.querySelectorAll("form.order-form").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("[type=submit]").forEach(function (button) {
          button.disabled = true;
        });
      });
    });
  });
})();
