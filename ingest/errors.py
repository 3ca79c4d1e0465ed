"""The one exception family of ingest.

    IngestError                 code, url, message; the CLI prints it as one line
    ├── ConfigError             bad settings file, key or value (exit 2)
    │   └── TemplateError       the note template fails to render a note
    ├── FetchError              the network said no; `transient` says whether a retry may help
    ├── ExtractError            the page was fetched but holds no usable article
    ├── LedgerError             the ledger cannot be opened, upgraded or written
    ├── WriteError              a note cannot be written to the output folder
    ├── SourceError             a source's document or the sources file is unusable
    └── SnapshotError           a kept response is missing or damaged (reextract)

Each error carries a stable `code` (``"http_404"``, ``"timeout"``, ``"no_main_text"`` …) so the
ledger can store and count failures by kind, and the URL it concerns when there is one.
"""

from __future__ import annotations


class IngestError(Exception):
    code = "error"

    def __init__(self, message: str, *, url: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        if code is not None:
            self.code = code


class ConfigError(IngestError):
    code = "config"


class TemplateError(ConfigError):
    """The note template fails on an item: the configuration's fault, never the item's, so the
    item waits, queued, for a template that works."""

    code = "template"


class FetchError(IngestError):
    code = "fetch"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        code: str | None = None,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, url=url, code=code)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class ExtractError(IngestError):
    code = "extract"


class LedgerError(IngestError):
    code = "ledger"


class WriteError(IngestError):
    code = "write"


class SourceError(IngestError):
    """A source's document (feed, listing page, sitemap) or its configuration is unusable."""

    code = "source"


class SnapshotError(IngestError):
    code = "snapshot"
