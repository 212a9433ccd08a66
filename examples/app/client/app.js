// Shows the client's version (version.json, written at build time) and the API's (GET <apiBaseUrl>/version).
// The API's base URL comes from ?api=<url>, else config.json's apiBaseUrl, else "/api" (an Amplify
// rewrite to the API, which avoids CORS).
(function () {
  "use strict";

  function show(id, text) {
    document.getElementById(id).textContent = text;
  }

  function getJson(url) {
    return fetch(url, { cache: "no-store" }).then(function (response) {
      if (!response.ok) {
        throw new Error(url + " answered " + response.status);
      }
      return response.json();
    });
  }

  function apiBaseUrl() {
    var fromQuery = new URLSearchParams(window.location.search).get("api");
    if (fromQuery) {
      return Promise.resolve(fromQuery);
    }
    return getJson("/config.json")
      .then(function (config) { return config.apiBaseUrl || "/api"; })
      .catch(function () { return "/api"; });
  }

  show("path", window.location.pathname);
  getJson("/version.json")
    .then(function (data) { show("client-version", data.version); })
    .catch(function (error) { show("client-version", "unknown (" + error.message + ")"); });
  apiBaseUrl()
    .then(function (base) { return getJson(base.replace(/\/$/, "") + "/version"); })
    .then(function (data) { show("api-version", data.version); })
    .catch(function (error) { show("api-version", "unreachable (" + error.message + ")"); });
})();
