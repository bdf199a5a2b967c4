(function () {
  var started = Date.now();
  window.addEventListener("beforeunload", function () {
    navigator.sendBeacon && navigator.sendBeacon("/beacon", String(Date.now() - started));
  });
})();
