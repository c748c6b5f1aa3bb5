"""Turn uploaded bytes into text blocks that keep the format's structure.

- `sniff(data, filename)` decides the type from the content (magic bytes, zip members,
  markup); the filename is only a hint between text subtypes (Markdown vs plain text).
- `extract(data, kind)` returns `Extracted` (blocks with page / section, page count).
Every failure - encrypted, damaged, bomb, unreadable - is an `ExtractionError` with a
message a user can act on; nothing else escapes, so a bad file cannot take a worker down.
Callers run `extract` through `tutorhub.knowledge.sandbox.extract_sandboxed`, which adds the
CPU, memory and wall-clock limits that page/size/nesting checks cannot give.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from django.conf import settings

from tutorhub.knowledge.chunking import Block

# kind -> (document_type, content type)
KINDS: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "png": "image/png",
    "jpeg": "image/jpeg",
}
DOCUMENT_TYPES = {"png": "image", "jpeg": "image"}  # everything else: document_type == kind


class ExtractionError(Exception):
    """The file cannot be turned into text; the message is shown to the user."""


@dataclass
class Extracted:
    blocks: list[Block]
    pages: int | None = None
    title: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if b.text)


# --- sniffing --------------------------------------------------------------------------------
def sniff(data: bytes, filename: str = "") -> str:
    """The kind of `data` (a key of KINDS), or ExtractionError if it is none of them."""
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            raise ExtractionError("The file is a damaged ZIP/Office document.") from None
        raise ExtractionError("Unsupported file type: only Word (.docx) archives are accepted.")
    if b"\x00" in head:
        raise ExtractionError(
            "Unsupported file type. Upload a PDF, Word (.docx), text, Markdown, HTML, PNG or JPEG file."
        )
    text = decode_text(data[:65536])
    stripped = text.lstrip().lower()
    if stripped.startswith(("<!doctype html", "<html")) or re.search(r"<(body|head|p|div|h1)[\s>]", stripped[:4096]):
        return "html"
    name = filename.lower()
    if name.endswith((".md", ".markdown")) or re.search(r"^#{1,6} \S", text, re.MULTILINE):
        return "markdown"
    return "text"


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def clean_text(text: str) -> str:
    """Normalise whitespace and drop control characters and PDF hyphenation at line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    text = re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- per format ------------------------------------------------------------------------------
def _pdf(data: bytes) -> Extracted:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    max_pages = settings.DOCUMENT_MAX_PAGES
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # An owner-password-only PDF opens with the empty user password; a real lock does not.
            try:
                if not reader.decrypt(""):
                    raise ExtractionError("The PDF is password-protected; upload an unlocked copy.")
            except (FileNotDecryptedError, NotImplementedError, PyPdfError):
                raise ExtractionError("The PDF is password-protected; upload an unlocked copy.") from None
        count = len(reader.pages)
        if count > max_pages:
            raise ExtractionError(f"The PDF has {count} pages; the limit is {max_pages}.")
        blocks = []
        budget = settings.DOCUMENT_MAX_TEXT_CHARS
        for number, page in enumerate(reader.pages, start=1):
            text = clean_text(page.extract_text() or "")
            budget -= len(text)
            if budget < 0:
                raise ExtractionError("The PDF holds more text than the processing limit allows.")
            if text:
                blocks.append(Block(text=text, page=number))
        title = ""
        try:
            title = str((reader.metadata or {}).get("/Title") or "")
        except PyPdfError:
            pass
    except ExtractionError:
        raise
    except LimitReachedError:
        raise ExtractionError("The PDF expands beyond the decompression limit (possible zip bomb).") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        raise ExtractionError(f"The PDF is damaged or unreadable ({type(exc).__name__}).") from None
    if not blocks:
        raise ExtractionError("The PDF has no extractable text (scanned pages need OCR; upload them as images).")
    return Extracted(blocks=blocks, pages=count, title=title)


def _check_zip(data: bytes) -> None:
    """Refuse Office files whose members would inflate past the limits (decompression bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise ExtractionError("The Word document is damaged (not a valid .docx archive).") from None
    if len(infos) > settings.DOCX_MAX_MEMBERS:
        raise ExtractionError("The Word document has too many parts to process safely.")
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > settings.DOCX_MAX_UNCOMPRESSED_BYTES or total / packed > settings.DOCX_MAX_COMPRESSION_RATIO:
        raise ExtractionError("The Word document expands beyond the decompression limit (possible zip bomb).")


def _docx(data: bytes) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises bare KeyError/ValueError/lxml errors for bad parts
        raise ExtractionError(f"The Word document is damaged or unreadable ({type(exc).__name__}).") from None
    blocks: list[Block] = []
    section: str | None = None
    lines: list[str] = []

    def flush() -> None:
        text = clean_text("\n\n".join(lines))
        if text:
            blocks.append(Block(text=text, section=section))
        lines.clear()

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            text = paragraph.text.strip()
            if not text:
                continue
            if style.startswith("Heading") or style == "Title":
                flush()
                section = text
            else:
                lines.append(text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = [c.text.strip() for c in row.cells]
                lines.append(" | ".join(c for c in cells if c))
    flush()
    if not blocks:
        raise ExtractionError("The Word document contains no text.")
    title = (document.core_properties.title or "").strip()
    return Extracted(blocks=blocks, title=title)


# Inline markup, written so that no part can rescan the rest of the line from each '[' or '(':
# the earlier `!\[([^\]]*)\]\([^)]*\)` was quadratic (a 60 KB line of "![a" took 30 s of CPU).
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()\[\]]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()\[\]]*\)")
_MD_EMPHASIS = re.compile(r"[*_`]{1,3}")


def _md_heading(line: str) -> str | None:
    r"""The text of an ATX heading line (`## Title ##`), else None. String methods, not a regex:
    the pattern `^(#{1,6})\s+(.+?)\s*#*\s*$` backtracks cubically on a run of spaces (a 1 KB
    heading line took 18 s of CPU)."""
    rest = line.lstrip("#")
    if not 1 <= len(line) - len(rest) <= 6 or not rest[:1].isspace():
        return None
    text = rest.strip()
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1].isspace()):  # a closing run of '#'
        text = unclosed.rstrip()
    return text or None


def _markdown(data: bytes) -> Extracted:
    blocks: list[Block] = []
    section: str | None = None
    lines: list[str] = []
    in_code = False

    def flush() -> None:
        text = clean_text("\n".join(lines))
        if text:
            blocks.append(Block(text=text, section=section))
        lines.clear()

    for line in decode_text(data).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else _md_heading(line)
        if heading is not None:
            flush()
            section = heading
            continue
        if not in_code:  # strip inline markup that would pollute the index
            line = _MD_EMPHASIS.sub("", _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", line)))
        lines.append(line)
    flush()
    if not blocks:
        raise ExtractionError("The Markdown file contains no text.")
    return Extracted(blocks=blocks, title=blocks[0].section or "")


_HTML_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_HTML_BLOCKS = {"p", "li", "pre", "td", "th", "dd", "dt", "blockquote", "figcaption", "caption"}


def html_blocks(markup: str | bytes) -> Extracted:
    """HTML → blocks under their nearest heading; navigation, scripts and styles dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "form", "svg", "iframe"]):
        tag.decompose()
    root = (
        soup.find("main")
        or soup.find("article")
        or soup.find(attrs={"role": "main"})
        or soup.find("div", class_="body")
        or soup.body
        or soup
    )
    blocks: list[Block] = []
    section: str | None = None
    lines: list[str] = []

    def flush() -> None:
        text = clean_text("\n\n".join(lines))
        if text:
            blocks.append(Block(text=text, section=section))
        lines.clear()

    for element in root.find_all(_HTML_HEADINGS | _HTML_BLOCKS):
        if element.name in _HTML_HEADINGS:
            flush()
            section = element.get_text(" ", strip=True).replace("¶", "").strip() or section
        elif not element.find_parent(_HTML_BLOCKS - {"td", "th"}):  # nested blocks are read with their parent
            text = element.get_text(" ", strip=True)
            if text:
                lines.append(text)
    flush()
    if not blocks:
        text = clean_text(root.get_text("\n", strip=True))
        if text:
            blocks.append(Block(text=text, section=title or None))
    return Extracted(blocks=blocks, title=title)


def _html(data: bytes) -> Extracted:
    extracted = html_blocks(data)
    if not extracted.blocks:
        raise ExtractionError("The web page contains no readable text.")
    return extracted


def _text(data: bytes) -> Extracted:
    text = clean_text(decode_text(data))
    if not text:
        raise ExtractionError("The text file is empty.")
    return Extracted(blocks=[Block(text=text)])


def _image(data: bytes) -> Extracted:
    import pytesseract
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > settings.OCR_MAX_PIXELS:
                raise ExtractionError(f"The image is too large for OCR ({width}x{height} pixels).")
            image.load()
            text = pytesseract.image_to_string(image.convert("L"), timeout=settings.OCR_TIMEOUT_SECONDS)
    except ExtractionError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ExtractionError("The image is damaged or not a PNG/JPEG picture.") from None
    except pytesseract.TesseractNotFoundError:
        raise ExtractionError("OCR is not available on this server (tesseract is not installed).") from None
    except RuntimeError:  # pytesseract raises RuntimeError on its timeout
        raise ExtractionError("OCR took too long on this image.") from None
    except pytesseract.TesseractError as exc:
        raise ExtractionError(f"OCR failed: {exc.message or 'tesseract error'}.") from None
    text = clean_text(text)
    if not text:
        raise ExtractionError("No text was found in the image.")
    return Extracted(blocks=[Block(text=text, page=1)], pages=1, metadata={"ocr": True})


_EXTRACTORS = {
    "pdf": _pdf,
    "docx": _docx,
    "markdown": _markdown,
    "html": _html,
    "text": _text,
    "png": _image,
    "jpeg": _image,
}


def extract(data: bytes, kind: str) -> Extracted:
    """Extract `data` of a sniffed `kind`. Raises ExtractionError only."""
    try:
        return _EXTRACTORS[kind](data)
    except ExtractionError:
        raise
    except MemoryError:  # in the sandbox (tutorhub.knowledge.sandbox): its RLIMIT_AS was reached
        cap = getattr(settings, "EXTRACTION_MEMORY_MB", None)
        limit = f"more than {cap} MB of memory" if cap else "more memory than is available"
        raise ExtractionError(f"The file needs {limit} to extract.") from None
    except Exception as exc:  # last line of defence: a parser bug must fail the document, not the worker
        raise ExtractionError(f"The file could not be read ({type(exc).__name__}).") from None
