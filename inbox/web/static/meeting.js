// Meeting view: every [data-seek] element (transcript segment, finding, time line) seeks the player.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) return;
  function seek(t) {
    var go = function () { player.currentTime = t; player.play().catch(function () {}); };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-seek]");
    if (!el || ev.target.closest("form")) return;
    ev.preventDefault();
    seek(parseFloat(el.getAttribute("data-seek")));
  });
  var segs = Array.prototype.slice.call(document.querySelectorAll(".seg"));
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    segs.forEach(function (s) {
      var on = t >= parseFloat(s.dataset.seek) && t < parseFloat(s.dataset.end);
      s.classList.toggle("playing", on);
    });
  });
})();
