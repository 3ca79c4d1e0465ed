"""ingest: archive research sources as Markdown source notes for a curated knowledge base."""

__version__ = "0.1.0"
