/* diffgen: set up the vendored ipywidgets renderer (loaded between require.js and embed-amd.js).
 *
 * 1. embed-amd.js finds its fonts next to its AMD module's URL. Without a path for the module,
 *    require.js places it beside the page (book/@jupyter-widgets/html-manager/dist/), where the
 *    fonts are not: map it to the vendored folder, which holds them.
 * 2. The widgets typeset math with the MathJax 2 call MathJax.Hub.Queue; the book loads
 *    MathJax 3, which has no Hub (a TypeError). A small Hub that calls MathJax 3 is attached to
 *    every object assigned to window.MathJax (the configuration, then MathJax itself).
 */
(function () {
  "use strict";

  const here = document.currentScript && document.currentScript.src;
  if (here && window.require && window.require.config) {
    window.require.config({
      paths: { "@jupyter-widgets/html-manager/dist": new URL("vendor/widgets", here).href },
    });
  }

  function typeset(job) {
    const element = job && job[2];
    const mj = window.MathJax;
    if (mj && mj.typesetPromise) {
      mj.typesetPromise(element ? [element] : undefined).catch(function () {});
    } else if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(function () { typeset(job); });
    } else {
      setTimeout(function () { typeset(job); }, 200);
    }
  }

  function addHub(mj) {
    if (mj && typeof mj === "object" && !("Hub" in mj)) {
      Object.defineProperty(mj, "Hub", {
        value: { Queue: typeset },
        enumerable: false,
        configurable: true,
      });
    }
    return mj;
  }

  let current = addHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = addHub(value); },
  });
})();
