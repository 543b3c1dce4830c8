// The staff workbench's enhancements (the workbench works without them).
(function () {
  "use strict";
})();
