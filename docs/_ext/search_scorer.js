/*
 * The search page's scorer (conf.py: html_search_scorer): Sphinx's default scores, and a page
 * whose title holds the whole query ranks before pages that only share its words. Sphinx
 * scores a page by the best of its words: for 推論モード, every page with モード in a title
 * scored the same as the inference_mode page, whose title is 推論モード, and ties are ordered
 * by name. Its own whole-title match needs the query to be half the title or more.
 */
var Scorer = {
  score: function (result) {
    var title = result[1] || "";
    var score = result[4];
    var query = new URLSearchParams(window.location.search).get("q") || "";
    query = query.trim().toLowerCase();
    var page = title.split(" > ")[0].toLowerCase();
    return query && page.indexOf(query) >= 0 ? score + Scorer.title : score;
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
