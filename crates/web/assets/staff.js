// The staff workbench's enhancements (the workbench works without them).
(function () {
  "use strict";
  // A button with `data-confirm` (retiring, merging, revoking, disabling) asks first; without
  // JavaScript the form posts at once, and the server's checks are the same either way.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
