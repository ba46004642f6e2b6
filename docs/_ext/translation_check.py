"""A translation that Sphinx cannot put into the page is a warning (an error with ``-W``).

Sphinx parses each translation as markup and keeps it only if it parses as a single
paragraph (or a title); anything else is dropped without a word, and the page shows the
English. A heading translated as ``1. `model.eval()` と ...`` parses as a numbered list, so
the heading, the page's table of contents and the search index stay English. After Sphinx's
``Locale`` transform, this one finds every message that the page's catalogue translates but
that is still untranslated on the page, and names the page, the line and the message. (Write
``1\\.`` to begin a translation with a number and a full stop.)
"""

from __future__ import annotations

from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import get_translator
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.i18n import docname_to_domain
from sphinx.util.nodes import extract_messages

logger = logging.getLogger(__name__)


class ReportUnappliedTranslations(SphinxTransform):
    """Warn about each message translated in the catalogue but not on the page."""

    default_priority = 22  # after Locale (20)

    def apply(self, **kwargs: Any) -> None:
        from sphinx.builders.gettext import MessageCatalogBuilder

        if issubclass(self.env._builder_cls, MessageCatalogBuilder):
            return
        docname = self.env.current_document.docname
        translator = get_translator(docname_to_domain(docname, self.config.gettext_compact))
        for node, message in extract_messages(self.document):
            if isinstance(node, addnodes.translatable) or node.get("translated", True):
                continue
            translation = translator.gettext(message)
            if translation.strip() and translation != message:
                logger.warning(
                    "page %r: Sphinx could not apply the translation of %r (it parses as "
                    "something other than one paragraph): %r",
                    docname,
                    message,
                    translation,
                    location=node,
                    type="i18n",
                    subtype="unapplied",
                )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_transform(ReportUnappliedTranslations)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
