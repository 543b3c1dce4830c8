// The petitioner portal's enhancements (the portal works without them).
(function () {
  "use strict";
})();
