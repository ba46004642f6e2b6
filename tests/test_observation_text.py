"""What the checks observed reads in every language: each label is one the catalogue knows,
and each translation keeps the values that were observed (docs/_ext/observation_text.py)."""

from __future__ import annotations

import sys

import pytest
from _site import DOCS

from gradmodes.claims import ClaimFailed, all_claims
from gradmodes.records import fingerprint, load_records, outcome

sys.path.insert(0, str(DOCS / "_ext"))

import observation_text
from observation_text import Templates, failure_parts, translator

LANGUAGES = ["ja"]


def _recorded_labels() -> list[str]:
    """The labels of the records' current entries (a stale one was made by older checks)."""
    claims = {claim.id: (claim, fingerprint(claim)) for claim in all_claims()}
    return [
        what
        for record in load_records(DOCS / "_data" / "evidence")
        for claim_id, result in record.claims.items()
        if claim_id in claims and outcome(record, *claims[claim_id]) != "stale"
        for what, _value in result.observations
    ]


def test_every_recorded_label_is_written_by_a_check() -> None:
    labels = _recorded_labels()
    assert labels  # the records hold what the checks observed
    assert Templates.of_checks().unknown(labels) == []


def test_a_label_written_some_other_way_is_unknown() -> None:
    assert Templates.of_checks().unknown(["a label that no check writes"]) == [
        "a label that no check writes"
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_translation_keeps_the_fields_of_its_label(lang: str) -> None:
    path = DOCS / "locale" / lang / "LC_MESSAGES" / f"{observation_text.DOMAIN}.po"
    translations = observation_text._translations(str(path))
    assert translations
    templates = Templates.of_checks().by_msgid
    lost = {
        msgid: text
        for msgid, text in translations.items()
        if msgid in templates
        and any(text.count(field) != msgid.count(field) for field in templates[msgid].fields)
    }
    assert lost == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_recorded_label_is_shown_translated_with_its_observed_values(lang: str) -> None:
    text = translator(DOCS, ["locale"], lang)
    templates = Templates.of_checks()
    checked = 0
    for label in sorted(set(_recorded_labels())):
        template, values = templates.match(label)  # type: ignore[misc]
        shown = text.label(label)
        if text.translations.get(template.msgid, template.msgid) == template.msgid:
            continue  # code only: the same in every language (its fields may be phrases)
        assert shown != label, label
        for value in values:
            assert text.value(value) in shown, (label, value)
        checked += 1
    assert checked


def test_english_is_shown_as_the_checks_wrote_it() -> None:
    english = translator(DOCS, ["locale"], "en")
    assert english.label("model.eval(); model.dropout(x) is x") == (
        "model.eval(); model.dropout(x) is x"
    )
    assert english.value("no error") == "no error"


def test_a_false_claims_failure_reads_as_label_expected_observed() -> None:
    failure = ClaimFailed("t.x", "model.train(); model.bn.running_mean changed", True, False)
    prefix = "claim 't.x' is false: "
    assert str(failure).startswith(prefix)
    assert failure_parts(str(failure).removeprefix(prefix)) == (
        "model.train(); model.bn.running_mean changed",
        "True",
        "False",
    )
