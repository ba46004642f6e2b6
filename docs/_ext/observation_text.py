"""The labels of what the checks observed, in the page's language: one gettext catalogue.

A check names each observation in English, in its own code (``obs.expect("model.eval();
model.dropout(x) is x", ...)``), and the evidence (the records, the evidence cache) keeps that
English. The pages of another language show it through ``locale/<lang>/LC_MESSAGES/
observations.po``, whose msgids are the labels as the checks write them: a string, or an
f-string with its fields as written (``{name}: step(): any parameter changed``), and the other
strings of the checks that a field can hold (``frozen before wrapping``). ``docs/build.py
--gettext`` writes its template, ``observations.pot`` (:func:`write_pot`).

A recorded label is matched against the f-strings: a field shows the value that was observed,
translated if that value is itself one of the catalogue's strings.

>>> t = Templates.of(["{name}: step(): any parameter changed", "frozen before wrapping"])
>>> ja = {"{name}: step(): any parameter changed": "{name}: step() で変化したパラメータがある"}
>>> t.translate("Adam: step(): any parameter changed", ja)
'Adam: step() で変化したパラメータがある'
>>> t.unknown(["Adam: step(): any parameter changed", "a label no check writes"])
['a label no check writes']
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

import gradmodes.claims

DOMAIN = "observations"  # the catalogue's name beside the pages' and the interface's
OBSERVING = ("expect", "record", "expect_raises")  # Observer methods; the label comes first
# A string of the checks that can be part of a label: words, not an identifier alone.
WORDS = re.compile(r"[A-Za-z]{2,} [a-z]{2,}")
WORD = re.compile(r"[A-Za-z]{3,}")
# What the registry (not a check) writes into evidence: the label of a claim outside its
# torch range (Claim.check) and the value of an expected error that did not come.
LABELS = (
    "reason",
    "no error",
    "no CUDA device in this build",
    "torch {torch.__version__} is outside {self.torch_versions}",
)


@dataclass(frozen=True)
class Template:
    """One msgid: its fixed text and, for an f-string, its fields as written."""

    msgid: str
    fields: tuple[str, ...]  # "{name}", "{name!r}", ... in order
    pattern: re.Pattern[str]

    @property
    def fixed_text(self) -> int:
        """How much of a label this template fixes (the most specific match wins)."""
        return len(self.msgid) - sum(map(len, self.fields))

    def fill(self, text: str, values: tuple[str, ...]) -> str:
        """``text`` (this msgid or its translation) with each field replaced by its value."""
        for field, value in zip(self.fields, values, strict=True):
            text = text.replace(field, value, 1) if field in text else text
        return text


def _template(parts: list[str | tuple[str]]) -> Template:
    """A template from a string's parts: text, or a field (a 1-tuple: the field as written)."""
    msgid = "".join(p if isinstance(p, str) else p[0] for p in parts)
    fields = tuple(p[0] for p in parts if isinstance(p, tuple))
    regex = "".join(re.escape(p) if isinstance(p, str) else "(.+?)" for p in parts)
    return Template(msgid, fields, re.compile(regex, re.DOTALL))


def _parts(node: ast.expr) -> list[str | tuple[str]] | None:
    """The parts of a string literal or an f-string (None for anything else)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if not isinstance(node, ast.JoinedStr):
        return None
    parts: list[str | tuple[str]] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            expression = ast.unparse(value.value)
            conversion = "" if value.conversion == -1 else "!" + chr(value.conversion)
            spec = ""
            if isinstance(value.format_spec, ast.JoinedStr):
                spec = ":" + "".join(str(getattr(v, "value", "")) for v in value.format_spec.values)
            parts.append((f"{{{expression}{conversion}{spec}}}",))
    return parts


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes that are no label: docstrings, the statements of ``@claim``, f-string pieces."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skipped.add(id(node.value))  # a docstring, or a string standing alone
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "claim":
            skipped.update(id(inner) for arg in node.args for inner in ast.walk(arg))
        elif isinstance(node, ast.JoinedStr):
            skipped.update(id(value) for value in node.values)
    return skipped


def extract(source: str) -> Iterable[tuple[Template, int]]:
    """The templates of one module's source, with their lines: the first argument of every
    ``obs.expect``/``record``/``expect_raises``, and every other string with words in it."""
    tree = ast.parse(source)
    skipped = _skipped(tree)
    labels: set[int] = set()
    for node in ast.walk(tree):
        observes = isinstance(node, ast.Call) and getattr(node.func, "attr", None) in OBSERVING
        if observes and node.args and (parts := _parts(node.args[0])) is not None:
            labels.add(id(node.args[0]))
            yield _template(parts), node.args[0].lineno
    for node in ast.walk(tree):
        if id(node) in skipped or id(node) in labels:
            continue
        parts = _parts(node)  # type: ignore[arg-type]
        if parts is not None and _phrase("".join(p for p in parts if isinstance(p, str)), parts):
            yield _template(parts), node.lineno  # type: ignore[attr-defined]


def _phrase(text: str, parts: list[str | tuple[str]]) -> bool:
    """Whether a string of the checks, besides their labels, can be part of a label: words
    (``frozen before wrapping``), or an f-string with a word (``{name} under {mode}``)."""
    formatted = len(parts) > 1 or isinstance(parts[0], tuple)
    return bool(WORDS.search(text) or (formatted and " " in text and WORD.search(text)))


def sources() -> list[Path]:
    """The modules of the claims' checks (not their registry: its errors are the package's),
    and of any other registered claim's check (a site's own claims, as the test fixture's)."""
    folder = Path(gradmodes.claims.__file__).parent
    found = {path for path in folder.glob("*.py") if path.name != "_registry.py"}
    for registered in gradmodes.claims.all_claims():
        source = inspect.getsourcefile(registered.run)
        if source is not None:
            found.add(Path(source))
    return sorted(found)


@dataclass(frozen=True)
class Templates:
    """Every template of the checks, and how a recorded label is matched against them."""

    by_msgid: Mapping[str, Template]
    locations: Mapping[str, tuple[tuple[str, int], ...]]

    @classmethod
    def of(cls, msgids: Iterable[str]) -> Templates:
        """Templates from msgids alone (for examples: a field is ``{`` to ``}``)."""
        found = {}
        for msgid in msgids:
            pieces = re.split(r"(\{[^{}]*\})", msgid)
            parts = [(p,) if i % 2 else p for i, p in enumerate(pieces) if p]
            found[msgid] = _template(parts)  # type: ignore[arg-type]
        return cls(found, {msgid: () for msgid in found})

    @classmethod
    @functools.cache
    def of_checks(cls) -> Templates:
        """The templates of the registered claims' checks (once per process: the claims are
        all registered when the first page is rendered)."""
        found: dict[str, Template] = {}
        locations: dict[str, list[tuple[str, int]]] = {}
        root = Path(gradmodes.claims.__file__).parents[2]
        for path in sources():
            where = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            for template, line in extract(path.read_text(encoding="utf-8")):
                found.setdefault(template.msgid, template)
                locations.setdefault(template.msgid, []).append((where, line))
        for label in Templates.of(LABELS).by_msgid.values():
            found.setdefault(label.msgid, label)
            locations.setdefault(label.msgid, [])
        return cls(found, {m: tuple(lines) for m, lines in locations.items()})

    @functools.cached_property
    def _fixed(self) -> dict[str, Template]:
        return {m: t for m, t in self.by_msgid.items() if not t.fields}

    @functools.cached_property
    def _formatted(self) -> list[Template]:
        """The f-strings with text of their own, the most specific first."""
        found = [t for t in self.by_msgid.values() if t.fields and t.fixed_text]
        return sorted(found, key=lambda t: -t.fixed_text)

    def match(self, label: str) -> tuple[Template, tuple[str, ...]] | None:
        """The most specific template that writes ``label``, with its fields' values."""
        if label in self._fixed:
            return self._fixed[label], ()
        for template in self._formatted:
            if found := template.pattern.fullmatch(label):
                return template, found.groups()
        return None

    def translate(self, label: str, translations: Mapping[str, str], depth: int = 2) -> str:
        """``label`` in the catalogue's language; a part it has no translation for stays.
        A field's value is translated too where it is one of the checks' phrases."""
        found = self.match(label)
        if found is None:
            return label
        template, values = found
        translated = translations.get(template.msgid) or template.msgid
        if depth:
            values = tuple(self.phrase(v, translations, depth - 1) for v in values)
        return template.fill(translated, values)

    def phrase(self, value: str, translations: Mapping[str, str], depth: int = 2) -> str:
        """``value`` translated if it is one of the checks' phrases that the catalogue
        translates, else as it is (code, a number, a repr: the same in every language)."""
        found = self.match(value)
        if found is None or translations.get(found[0].msgid, found[0].msgid) == found[0].msgid:
            return value
        return self.translate(value, translations, depth)

    def unknown(self, labels: Iterable[str]) -> list[str]:
        """The labels no template writes (a check that named one some other way)."""
        return sorted({label for label in labels if self.match(label) is None})


def write_pot(pot: Path, project: str) -> Catalog:
    """Write the catalogue template of every template of the checks into ``pot``."""
    templates = Templates.of_checks()
    catalogue = Catalog(project=project)
    for msgid, lines in sorted(templates.locations.items()):
        catalogue.add(msgid, locations=lines)
    with pot.open("wb") as handle:
        write_po(handle, catalogue, width=100, sort_output=True)
    return catalogue


@functools.cache
def _translations(path: str) -> dict[str, str]:
    with open(path, "rb") as handle:
        catalogue = read_po(handle)
    return {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}


@dataclass(frozen=True)
class Translator:
    """What the checks observed, in one language (no translations: as written)."""

    translations: Mapping[str, str]

    def label(self, label: str) -> str:
        """An observation's label."""
        if not self.translations:
            return label
        return Templates.of_checks().translate(label, self.translations)

    def knows(self, label: str) -> bool:
        """Whether ``label`` is one the catalogue can translate (always, for no translations)."""
        return not self.translations or Templates.of_checks().match(label) is not None

    def value(self, value: str) -> str:
        """An observed value: translated only where it is one of the checks' phrases
        (``no error``), not a repr or a message of torch's."""
        if not self.translations:
            return value
        return Templates.of_checks().phrase(value, self.translations)


def translator(srcdir: Path, locale_dirs: Iterable[str], language: str | None) -> Translator:
    """The translator for ``language`` from the first of ``locale_dirs`` with its catalogue."""
    for folder in locale_dirs if language else ():
        path = Path(srcdir) / folder / str(language) / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            return Translator(_translations(str(path)))
    return Translator({})


FAILURE = re.compile(r"(?P<what>.*?): expected (?P<expected>.*), observed (?P<observed>.*)", re.S)


def failure_parts(failure: str) -> tuple[str, str, str] | None:
    """The label, expected and observed value of a false claim's failure (``ClaimFailed``,
    without its ``claim '<id>' is false: ``); None for another error.

    >>> failure_parts("torch.is_grad_enabled(): expected False, observed True")
    ('torch.is_grad_enabled()', 'False', 'True')
    >>> failure_parts("RuntimeError: element 0 of tensors does not require grad") is None
    True
    """
    found = FAILURE.fullmatch(failure)
    return None if found is None else (found["what"], found["expected"], found["observed"])
