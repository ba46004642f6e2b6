/*
 * splitQuery for the Japanese search page: splits a query into the words that Sphinx's
 * Japanese search index holds. segment() computes what sphinx.search.ja.DefaultSplitter.split
 * computes, step by step (the same scores, in the same order, with the same model), then
 * splitQuery keeps the words SearchJapanese.word_filter keeps. The segmenter looks at a few
 * characters around each position, so a word typed alone can come out whole where the page's
 * sentence was split (or the other way round): a word the index does not hold is replaced by
 * the fewest index words that spell it, if there are such words. The build fills in the model
 * from the installed Sphinx (docs/_ext/query_splitter.py); searchtools.js calls splitQuery.
 */
var splitQuery = (function () {
  "use strict";
  var model = /* MODEL */;
  var minLength = /* MIN_LENGTH */;
  var types = model.types.map(function (entry) {
    return [new RegExp(entry[0], "u"), entry[1]];
  });
  var own = Object.prototype.hasOwnProperty;

  function charType(character) {
    for (var i = 0; i < types.length; i++) {
      if (types[i][0].test(character)) return types[i][1];
    }
    return "O";
  }

  function weight(table, key) {
    return own.call(model[table], key) ? model[table][key] : 0;
  }

  function segment(text) {
    var characters = Array.from(text);
    if (characters.length === 0) return [];
    var seg = ["B3", "B2", "B1"].concat(characters, ["E1", "E2", "E3"]);
    var ctype = ["O", "O", "O"].concat(characters.map(charType), ["O", "O", "O"]);
    var words = [];
    var word = seg[3];
    var p1 = "U";
    var p2 = "U";
    var p3 = "U";
    for (var i = 4; i < seg.length - 3; i++) {
      var w1 = seg[i - 3], w2 = seg[i - 2], w3 = seg[i - 1];
      var w4 = seg[i], w5 = seg[i + 1], w6 = seg[i + 2];
      var c1 = ctype[i - 3], c2 = ctype[i - 2], c3 = ctype[i - 1];
      var c4 = ctype[i], c5 = ctype[i + 1], c6 = ctype[i + 2];
      var score = model.BIAS;
      score += weight("UP1", p1) + weight("UP2", p2) + weight("UP3", p3);
      score += weight("BP1", p1 + p2) + weight("BP2", p2 + p3);
      score += weight("UW1", w1) + weight("UW2", w2) + weight("UW3", w3);
      score += weight("UW4", w4) + weight("UW5", w5) + weight("UW6", w6);
      score += weight("BW1", w2 + w3) + weight("BW2", w3 + w4) + weight("BW3", w4 + w5);
      score += weight("TW1", w1 + w2 + w3) + weight("TW2", w2 + w3 + w4);
      score += weight("TW3", w3 + w4 + w5) + weight("TW4", w4 + w5 + w6);
      score += weight("UC1", c1) + weight("UC2", c2) + weight("UC3", c3);
      score += weight("UC4", c4) + weight("UC5", c5) + weight("UC6", c6);
      score += weight("BC1", c2 + c3) + weight("BC2", c3 + c4) + weight("BC3", c4 + c5);
      score += weight("TC1", c1 + c2 + c3) + weight("TC2", c2 + c3 + c4);
      score += weight("TC3", c3 + c4 + c5) + weight("TC4", c4 + c5 + c6);
      // UQ1 twice, as the Python splitter does (it never reads UQ3).
      score += weight("UQ1", p1 + c1) + weight("UQ2", p2 + c2) + weight("UQ1", p3 + c3);
      score += weight("BQ1", p2 + c2 + c3) + weight("BQ2", p2 + c3 + c4);
      score += weight("BQ3", p3 + c2 + c3) + weight("BQ4", p3 + c3 + c4);
      score += weight("TQ1", p2 + c1 + c2 + c3) + weight("TQ2", p2 + c2 + c3 + c4);
      score += weight("TQ3", p3 + c1 + c2 + c3) + weight("TQ4", p3 + c2 + c3 + c4);
      var p = "O";
      if (score > 0) {
        words.push(word.trim());
        word = "";
        p = "B";
      }
      p1 = p2;
      p2 = p3;
      p3 = p;
      word += seg[i];
    }
    words.push(word.trim());
    return words;
  }

  function indexTables() {
    var index = typeof Search !== "undefined" ? Search._index : null;
    return index ? [index.terms || {}, index.titleterms || {}] : null;
  }

  function indexed(tables, word) {
    var key = word.toLowerCase();
    return tables.some(function (table) {
      return own.call(table, key);
    });
  }

  // The fewest words of the index that spell `word` one after the other, or null.
  function asIndexWords(tables, word) {
    var characters = Array.from(word);
    var best = [[]];
    for (var end = 1; end <= characters.length; end++) {
      best[end] = null;
      for (var start = 0; start <= end - minLength; start++) {
        var piece = characters.slice(start, end).join("");
        if (best[start] === null || !indexed(tables, piece)) continue;
        if (best[end] === null || best[start].length + 1 < best[end].length) {
          best[end] = best[start].concat([piece]);
        }
      }
    }
    return best[characters.length];
  }

  function split(query) {
    var words = segment(query).filter(function (word) {
      return Array.from(word).length >= minLength;
    });
    var tables = indexTables();
    if (tables === null) return words;
    return words.reduce(function (found, word) {
      var pieces = indexed(tables, word) ? null : asIndexWords(tables, word);
      return found.concat(pieces || [word]);
    }, []);
  }
  split.segment = segment; // for the tests: the segmenter alone
  return split;
})();
