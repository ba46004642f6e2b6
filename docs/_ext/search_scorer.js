/*
 * The search page's scorer (conf.py: html_search_scorer): Sphinx's default scores, and a page
 * whose title names the query ranks before pages that only share its words. Sphinx scores a
 * page by the best of its words: for 推論モード, every page with モード in a title scored the
 * same as the inference_mode page, whose title is 「torch.inference_mode()（推論モード）」, and
 * ties are ordered by name; its own whole-title match needs the query to be half the title or
 * more. A title names the query where one of its parts, split at its brackets, colons and
 * commas, is the query: 推論モード there, not 凍結された in 「凍結されたモデルに付ける…」.
 */
var namesQuery = (function () {
  "use strict";
  var parts = /[()（）:：,、]/;
  return function (title, query) {
    return title.split(parts).some(function (part) {
      return part.trim() === query;
    });
  };
})();
var Scorer = {
  score: function (result) {
    var title = (result[1] || "").split(" > ")[0].toLowerCase();
    var query = new URLSearchParams(window.location.search).get("q") || "";
    query = query.trim().toLowerCase();
    return query && namesQuery(title, query) ? result[4] + Scorer.title : result[4];
  },
  // Sphinx's defaults (searchtools.js), unchanged.
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
