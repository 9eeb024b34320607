/* diffgen: make the visible sidebar buttons work.
 *
 * sphinx-book-theme 1.3 with pydata-sphinx-theme 0.17 renders two buttons of class
 * .primary-toggle (and two of .secondary-toggle): one in the top navbar, which the book theme
 * hides, and one in the article header, which readers see. Both themes attach their click
 * handlers to the first one only (document.querySelector), so on a phone the menu and the
 * contents buttons did nothing (pydata/pydata-sphinx-theme#2451). Here every other button of
 * the kind forwards its click to the first one, whose handlers open the drawer (narrow screens)
 * or collapse the sidebar (wide screens). Drop this file once the themes fix it upstream.
 */
(function () {
  "use strict";

  function forwardClicks(kind) {
    const buttons = Array.from(document.querySelectorAll("." + kind + "-toggle"));
    const first = buttons[0];
    buttons.slice(1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        first.click();
      });
    });
  }

  function init() {
    forwardClicks("primary");
    forwardClicks("secondary");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
