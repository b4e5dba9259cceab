"""The 64 KiB body limit for every transfer encoding, chunked included.

Flask's MAX_CONTENT_LENGTH refuses a body whose Content-Length is too large. A chunked
body has no Content-Length: werkzeug then reads it through a stream capped at the limit
and, when the body is longer, silently stops there (`LimitedStream.readall` returns what
fits). A JSON object followed by 70 KB of spaces was read as its first 64 KiB, still
valid JSON, and accepted. This middleware reads a chunked body itself, at most one byte
past the limit, and hands Flask a body with a Content-Length: the real one if it fits,
so nothing changes for the views; one over the limit if not, so the usual 413 answers.
"""

import io
from collections.abc import Iterable
from typing import Any

from werkzeug.http import parse_set_header


class ChunkedBodyLimit:
    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        encoding = environ.get("HTTP_TRANSFER_ENCODING")
        if encoding is not None and "chunked" in parse_set_header(encoding):
            # The server has already undone the chunking; this reads the decoded body.
            body = environ["wsgi.input"].read(self.limit + 1)
            del environ["HTTP_TRANSFER_ENCODING"]
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body if len(body) <= self.limit else b"")
        return self.app(environ, start_response)
