"""Turn uploaded bytes into text blocks that keep the format's structure.

- `sniff(data, filename)` decides the type from the content (magic bytes, zip members,
  markup); the filename is only a hint between text subtypes (Markdown vs plain text).
- `extract(data, kind)` returns `Extracted` (blocks with page / section / heading level, page
  count). Headings come from the format's structure: Markdown `#`, HTML h1-h6, Word Heading and
  Title styles, PDF lines set larger or bolder than the body text (pdfminer.six reports each
  character's font and size), plain-text short lines that lead a paragraph. Levels are ranked
  densely from 1 (the top) per document.
Every failure - encrypted, damaged, bomb, unreadable - is an `ExtractionError` with a
message a user can act on; nothing else escapes, so a bad file cannot take a worker down.
Callers run `extract` through `tutorhub.knowledge.sandbox.extract_sandboxed`, which adds the
CPU, memory and wall-clock limits that page/size/nesting checks cannot give.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections import Counter
from contextlib import contextmanager
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


class _Sections:
    """Collects text under the current heading into blocks (one per section run) for every format.

    A heading directly followed by another heading still becomes a block, with no text, so the
    outline keeps the whole hierarchy (a chapter heading above its first section's heading)."""

    def __init__(self, joiner: str = "\n\n"):
        self.blocks: list[Block] = []
        self.section: str | None = None
        self.level: int | None = None
        self.page: int | None = None
        self.lines: list[str] = []
        self.joiner = joiner
        self._heading_shown = True

    def heading(self, text: str, level: int) -> None:
        self.flush()
        if not self._heading_shown:
            self.blocks.append(Block(text="", page=self.page, section=self.section, level=self.level))
        self.section, self.level, self._heading_shown = text, level, False

    def flush(self) -> None:
        text = clean_text(self.joiner.join(self.lines))
        if text:
            self.blocks.append(Block(text=text, page=self.page, section=self.section, level=self.level))
            self._heading_shown = True
        self.lines.clear()

    def finish(self) -> list[Block]:
        self.flush()
        return self.blocks


def _rank_levels(blocks: list[Block]) -> list[Block]:
    """Renumber heading levels densely from 1 in the order of their depth: a Markdown file that
    starts at `##` or a PDF whose only headings are its second-largest style still has level 1
    at its top, and no level is skipped (h1 then h3 becomes 1 then 2)."""
    used = sorted({b.level for b in blocks if b.level is not None})
    rank = {level: i for i, level in enumerate(used, start=1)}
    for block in blocks:
        if block.level is not None:
            block.level = rank[block.level]
    return blocks


# --- per format ------------------------------------------------------------------------------
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.I)


@dataclass
class _PdfLine:
    page: int
    text: str
    size: float  # the line's dominant font size, rounded to half points
    bold: bool
    top: float
    bottom: float


_PDF_LOCKED = "The PDF is password-protected; upload an unlocked copy."


@contextmanager
def _pdf_errors():
    """pypdf's and pdfminer's failures as the ExtractionError a user reads: one message each for a
    decompression bomb, a password lock and a damaged file. Besides their own error types, both
    parsers let plain Python errors escape on malformed input."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    try:
        yield
    except ExtractionError:
        raise
    except LimitReachedError:  # before PyPdfError, its base class
        raise ExtractionError("The PDF expands beyond the decompression limit (possible zip bomb).") from None
    except (PDFPasswordIncorrect, PDFEncryptionError, FileNotDecryptedError):
        raise ExtractionError(_PDF_LOCKED) from None
    except (PyPdfError, PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError) as exc:
        raise ExtractionError(f"The PDF is damaged or unreadable ({type(exc).__name__}).") from None


def _pdf_checks(data: bytes):
    """(pypdf reader, page count, title). pypdf gates the file before layout analysis: a password
    lock, the page limit and a content stream that inflates past pypdf's decompression limit are
    refused with their own message (pdfminer has no inflate limit; the sandbox's memory cap would
    be the only stop)."""
    import pypdf
    from pypdf.errors import PyPdfError

    with _pdf_errors():
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # An owner-password-only PDF opens with the empty user password; a real lock does not
            # (nor does one whose encryption pypdf cannot undo: NotImplementedError, PyPdfError).
            try:
                unlocked = reader.decrypt("")
            except (NotImplementedError, PyPdfError):
                unlocked = False
            if not unlocked:
                raise ExtractionError(_PDF_LOCKED)
        count = len(reader.pages)
        if count > settings.DOCUMENT_MAX_PAGES:
            raise ExtractionError(f"The PDF has {count} pages; the limit is {settings.DOCUMENT_MAX_PAGES}.")
        seen: set[int] = set()
        for page in reader.pages:
            contents = page.get_contents()
            if contents is not None and id(contents) not in seen:
                seen.add(id(contents))
                contents.get_data()  # inflates under pypdf's limit (LimitReachedError past it)
        title = ""
        try:
            title = str((reader.metadata or {}).get("/Title") or "")
        except PyPdfError:
            pass
    return reader, count, title


def _pdf_lines(data: bytes, *, cpu_budget: float) -> tuple[list[_PdfLine], int]:
    """(text lines with their page, dominant font size and weight, pages read) by pdfminer.six's
    layout analysis. It costs about six times pypdf's plain text extraction (~35 ms of CPU a page),
    so it stops after the page during which `cpu_budget` seconds of CPU were spent: the rest of a
    very long PDF is read as plain text rather than the whole file failing on the CPU limit."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    lines: list[_PdfLine] = []
    budget = settings.DOCUMENT_MAX_TEXT_CHARS
    deadline = time.process_time() + cpu_budget
    number = 0
    with _pdf_errors():
        for number, layout in enumerate(extract_pages(io.BytesIO(data), password="", laparams=LAParams()), start=1):
            if time.process_time() > deadline:
                return lines, number - 1
            for element in layout:
                if not isinstance(element, LTTextContainer):
                    continue
                for line in element:
                    if not isinstance(line, LTTextLine):
                        continue
                    text = " ".join(line.get_text().split())
                    if not text:
                        continue
                    budget -= len(text)
                    if budget < 0:
                        raise ExtractionError("The PDF holds more text than the processing limit allows.")
                    sizes: Counter[float] = Counter()
                    bold = total = 0
                    for char in line:
                        if isinstance(char, LTChar) and not char.get_text().isspace():
                            sizes[round(char.size * 2) / 2] += 1
                            bold += bool(_BOLD_FONT.search(char.fontname or ""))
                            total += 1
                    if not total:
                        continue
                    lines.append(_PdfLine(number, text, sizes.most_common(1)[0][0], bold * 2 > total, line.y1, line.y0))
    return lines, number


def _pdf_heading_styles(lines: list[_PdfLine]) -> dict[tuple[float, bool], int]:
    """(font size, bold) of heading lines -> outline level (1 = largest).

    Body text is the size most characters are set in. A heading is a short line that does not
    read as a sentence, set larger than the body or in bold at body size; its level is the rank
    of its style among the heading styles (larger first, bold before regular at one size), so a
    document's own hierarchy is kept whatever sizes it uses."""
    weight: Counter[float] = Counter()
    for line in lines:
        weight[line.size] += len(line.text)
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    styles = {
        (line.size, line.bold)
        for line in lines
        if _pdf_is_heading_text(line.text) and (line.size >= body * 1.15 or (line.bold and line.size >= body * 0.95))
    }
    styles.discard((body, False))
    ranked = sorted(styles, key=lambda s: (-s[0], not s[1]))
    return {style: min(rank, 6) for rank, style in enumerate(ranked, start=1)}


def _pdf_is_heading_text(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 14 and len(text) <= 120 and not text.endswith((".", ",", ";", ":")) and any(c.isalpha() for c in text)


def _pdf_page_text(reader, number: int) -> str:
    with _pdf_errors():
        return reader.pages[number - 1].extract_text() or ""


def _pdf(data: bytes) -> Extracted:
    reader, count, title = _pdf_checks(data)
    lines, laid_out = _pdf_lines(data, cpu_budget=getattr(settings, "EXTRACTION_CPU_SECONDS", 20) / 2)
    levels = _pdf_heading_styles(lines)
    sections = _Sections()
    previous: _PdfLine | None = None
    paragraph: list[str] = []

    def end_paragraph() -> None:
        # A paragraph's lines are joined with spaces (after undoing end-of-line hyphenation), so a
        # sentence never holds a line break and paragraphs are separated by a blank line.
        if paragraph:
            sections.lines.append(clean_text("\n".join(paragraph)).replace("\n", " "))
            paragraph.clear()

    for line in lines:
        heading_level = levels.get((line.size, line.bold)) if _pdf_is_heading_text(line.text) else None
        if previous is None or line.page != previous.page:
            end_paragraph()
            sections.flush()  # a block never spans two pages, so citations keep an exact page
            sections.page, previous = line.page, None
        if heading_level is not None:
            end_paragraph()
            if previous is not None and previous.text == sections.section and heading_level == sections.level:
                sections.section = f"{sections.section} {line.text}"  # one heading set on two lines
            else:
                sections.heading(line.text, heading_level)
        elif previous is not None and (previous.bottom - line.top) > 0.8 * line.size:  # wider than normal leading
            end_paragraph()
        if heading_level is None:
            paragraph.append(line.text)
        previous = line
    end_paragraph()
    sections.flush()
    budget = settings.DOCUMENT_MAX_TEXT_CHARS - sum(len(line.text) for line in lines)
    for number in range(laid_out + 1, count + 1):  # past the layout budget: plain text, last section
        sections.page = number
        text = clean_text(_pdf_page_text(reader, number))
        budget -= len(text)
        if budget < 0:
            raise ExtractionError("The PDF holds more text than the processing limit allows.")
        sections.lines.append(text)
        sections.flush()
    blocks = sections.finish()
    if not any(b.text for b in blocks):
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


def _docx_heading_level(style: str) -> int | None:
    """Outline level of a paragraph style: "Title" above "Heading 1" .. "Heading 9"."""
    if style == "Title":
        return 0
    if style.startswith("Heading"):
        number = style.removeprefix("Heading").strip()
        return int(number) if number.isdigit() else 1
    return None


def _docx(data: bytes) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises bare KeyError/ValueError/lxml errors for bad parts
        raise ExtractionError(f"The Word document is damaged or unreadable ({type(exc).__name__}).") from None
    sections = _Sections()
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            text = paragraph.text.strip()
            if not text:
                continue
            level = _docx_heading_level(style)
            if level is not None:
                sections.heading(text, level)
            else:
                sections.lines.append(text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = [c.text.strip() for c in row.cells]
                sections.lines.append(" | ".join(c for c in cells if c))
    blocks = sections.finish()
    if not any(b.text for b in blocks):
        raise ExtractionError("The Word document contains no text.")
    title = (document.core_properties.title or "").strip()
    return Extracted(blocks=blocks, title=title)


# Inline markup, written so that no part can rescan the rest of the line from each '[' or '(':
# the earlier `!\[([^\]]*)\]\([^)]*\)` was quadratic (a 60 KB line of "![a" took 30 s of CPU).
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()\[\]]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()\[\]]*\)")
_MD_EMPHASIS = re.compile(r"[*_`]{1,3}")


def _md_heading(line: str) -> tuple[str, int] | None:
    r"""(text, level) of an ATX heading line (`## Title ##` -> ("Title", 2)), else None. String
    methods, not a regex: the pattern `^(#{1,6})\s+(.+?)\s*#*\s*$` backtracks cubically on a
    run of spaces (a 1 KB heading line took 18 s of CPU)."""
    rest = line.lstrip("#")
    level = len(line) - len(rest)
    if not 1 <= level <= 6 or not rest[:1].isspace():
        return None
    text = rest.strip()
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1].isspace()):  # a closing run of '#'
        text = unclosed.rstrip()
    return (text, level) if text else None


def _markdown(data: bytes) -> Extracted:
    sections = _Sections(joiner="\n")
    in_code = False
    for line in decode_text(data).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else _md_heading(line)
        if heading is not None:
            sections.heading(*heading)
            continue
        if not in_code:  # strip inline markup that would pollute the index
            line = _MD_EMPHASIS.sub("", _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", line)))
        sections.lines.append(line)
    blocks = sections.finish()
    if not any(b.text for b in blocks):
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
    sections = _Sections()
    for element in root.find_all(_HTML_HEADINGS | _HTML_BLOCKS):
        if element.name in _HTML_HEADINGS:
            heading = element.get_text(" ", strip=True).replace("¶", "").strip()
            if heading:
                sections.heading(heading, int(element.name[1]))
        elif not element.find_parent(_HTML_BLOCKS - {"td", "th"}):  # nested blocks are read with their parent
            text = element.get_text(" ", strip=True)
            if text:
                sections.lines.append(text)
    blocks = sections.finish()
    if not any(b.text for b in blocks):
        blocks = []
        text = clean_text(root.get_text("\n", strip=True))
        if text:
            blocks.append(Block(text=text, section=title or None, level=1 if title else None))
    return Extracted(blocks=blocks, title=title)


def _html(data: bytes) -> Extracted:
    extracted = html_blocks(data)
    if not extracted.blocks:
        raise ExtractionError("The web page contains no readable text.")
    return extracted


_TEXT_NUMBERING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")


def _text_heading(paragraph: str) -> tuple[str, int] | None:
    """(title, level) when a plain-text paragraph is a heading as people type one: a single short
    line that does not end like a sentence ("Causes", "2.1 The Calvin cycle"); its numbering
    depth is its level."""
    if "\n" in paragraph or len(paragraph.split()) > 12 or not paragraph[:1].isalnum() or not paragraph[:1].upper() == paragraph[:1]:
        return None
    if paragraph.endswith((".", ",", ";", ":", "!", "?", ")", '"')):
        return None
    numbering = _TEXT_NUMBERING.match(paragraph)
    return paragraph, numbering.group(1).count(".") + 1 if numbering else 1


def _text(data: bytes) -> Extracted:
    text = clean_text(decode_text(data))
    if not text:
        raise ExtractionError("The text file is empty.")
    paragraphs = text.split("\n\n")
    sections = _Sections()
    for index, paragraph in enumerate(paragraphs):
        heading = _text_heading(paragraph) if index + 1 < len(paragraphs) else None  # a heading leads text
        if heading is not None:
            sections.heading(*heading)
        else:
            sections.lines.append(paragraph)
    return Extracted(blocks=sections.finish())


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
        extracted = _EXTRACTORS[kind](data)
        _rank_levels(extracted.blocks)
        return extracted
    except ExtractionError:
        raise
    except MemoryError:  # in the sandbox (tutorhub.knowledge.sandbox): its RLIMIT_AS was reached
        cap = getattr(settings, "EXTRACTION_MEMORY_MB", None)
        limit = f"more than {cap} MB of memory" if cap else "more memory than is available"
        raise ExtractionError(f"The file needs {limit} to extract.") from None
    except Exception as exc:  # last line of defence: a parser bug must fail the document, not the worker
        raise ExtractionError(f"The file could not be read ({type(exc).__name__}).") from None
