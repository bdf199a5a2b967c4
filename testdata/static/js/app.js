// The example site's application script. It relies on globals from util.js and tiny.min.js.
(function (tiny, Util) {
  "use strict";
  var resizeHandler = Util.debounce(function () {
    document.documentElement.setAttribute("data-width", String(window.innerWidth));
  }, 100);

  tiny.ready(function () {
    window.addEventListener("resize", resizeHandler);
    var items = document.querySelectorAll("li");
    console.log(Util.formatCount(items.length));
  });
})(window.tiny, Util);
