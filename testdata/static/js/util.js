/*! util.js — helpers for the stapler example site */
var Util = (function () {
  "use strict";

  function debounce(callback, waitMilliseconds) {
    var pendingTimer = null;
    return function () {
      var context = this;
      var argumentsCopy = arguments;
      clearTimeout(pendingTimer);
      pendingTimer = setTimeout(function () {
        callback.apply(context, argumentsCopy);
      }, waitMilliseconds);
    };
  }

  function formatCount(count) {
    if (count === 1) {
      return "1 item";
    }
    return count + " items";
  }

  return { debounce: debounce, formatCount: formatCount };
})()
