// Starts Redoc for GET /docs. Served from the same origin so the page needs no inline script
// (CSP script-src 'self'). If the <script> tag that loads this file carries a CSP nonce, the nonce is
// handed to Redoc, which then puts it on the <style> element that styled-components creates
// (needed only when style-src uses a nonce instead of 'unsafe-inline'; see README.md).
(function () {
  'use strict';
  var el = document.getElementById('redoc-container');
  // Set through the CSSOM, which CSP does not restrict, so the page needs no <style> of its own.
  document.body.style.margin = '0';
  var options = {
    // No option is needed to stop external fetches: the only hard-coded external URL in the bundle
    // (the "API docs by Redocly" footer logo) is blocked by the page's CSP img-src.
    expandResponses: '200,201',
    requiredPropsFirst: true,
    // Set to true to drop the search box; the page then also works without CSP worker-src blob:.
    disableSearch: false
  };
  var nonce = document.currentScript && document.currentScript.nonce;
  if (nonce) {
    options.nonce = nonce;
  }
  Redoc.init(el.getAttribute('data-spec-url'), options, el);
})();
