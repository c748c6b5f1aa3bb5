"""Document structure: headings of every format become outline sections with a level (issue 13
item 4). PDFs are built with real fonts and sizes (reportlab, via the generation benchmark's
builder), so headings are found by font size and weight the way a user's PDF would be read."""

from __future__ import annotations

import io

import pytest

from benchmarks.generation import make_pdf_with_headings
from tests.knowledge.conftest import make_docx, upload
from tutorhub.knowledge.extraction import extract
from tutorhub.knowledge.models import Document

PDF_PAGES = [
    [
        ("h1", "Photosynthesis"),
        ("h2", "Overview"),
        ("p", "Photosynthesis is the process by which green plants use sunlight to make glucose from carbon "
              "dioxide and water. It takes place in the chloroplasts of leaf cells."),
        ("h2", "The Calvin cycle"),
        ("p", "The Calvin cycle takes place in the stroma and builds sugars from carbon dioxide."),
    ],
    [
        ("p", "Each turn of the cycle fixes one molecule of carbon dioxide."),
        ("h3", "Key enzymes"),
        ("p", "Rubisco is the enzyme that fixes carbon dioxide in the Calvin cycle."),
        ("h1", "Respiration"),
        ("p", "Respiration releases the energy stored in glucose in every living cell."),
    ],
]


def test_pdf_headings_become_sections_with_levels_and_pages(api_client, course):
    response = upload(api_client, course, "bio.pdf", make_pdf_with_headings(PDF_PAGES), name="Biology")
    doc = Document.objects.get(pk=response.json()["document"]["id"])
    assert doc.processing_status == "completed", doc.processing_error
    outline = [(e["title"], e["level"], e["page"]) for e in doc.outline]
    assert outline == [
        ("Photosynthesis", 1, 1),
        ("Overview", 2, 1),
        ("The Calvin cycle", 2, 1),
        ("The Calvin cycle", 2, 2),  # the section goes on over the page break: one entry per page
        ("Key enzymes", 3, 2),
        ("Respiration", 1, 2),
    ]
    # Headings are sections, not text glued to the next sentence.
    assert "Overview Photosynthesis" not in doc.extracted_text
    assert "Photosynthesis is the process by which green plants use sunlight to make glucose from carbon dioxide and water." in doc.extracted_text
    content = api_client.get(f"/api/v1/courses/{course.id}/documents/{doc.id}/content/").json()
    sections = {(s["title"], s["page"]): s for s in content["sections"]}
    assert sections[("Key enzymes", 2)]["level"] == 3
    assert sections[("Key enzymes", 2)]["content"].startswith("Rubisco is the enzyme")
    assert sections[("Overview", 1)]["content"].startswith("Photosynthesis is the process")
    # Chunks keep their page for citations, and their section.
    located = set(doc.chunks.values_list("section", "page"))
    assert ("Key enzymes", 2) in located and ("Overview", 1) in located


def test_pdf_without_distinct_fonts_keeps_page_sections():
    from tests.knowledge.conftest import make_pdf

    extracted = extract(make_pdf(["First page text.", "Second page text."]), "pdf")
    assert [(b.section, b.level, b.page) for b in extracted.blocks] == [(None, None, 1), (None, None, 2)]


def test_pdf_heading_set_in_bold_at_body_size_is_the_lowest_level():
    pdf = make_pdf_with_headings([[("h2", "Chapter"), ("h3", "Details"), ("p", "Body text that is long enough.")]])
    blocks = extract(pdf, "pdf").blocks
    assert [(b.section, b.level) for b in blocks] == [("Chapter", 1), ("Details", 2)]
    assert blocks[0].text == "" and blocks[1].text == "Body text that is long enough."


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("markdown", b"## Vectors\n\nA vector has a direction.\n\n#### Dot product\n\nIt multiplies.\n\n## Matrices\n\nGrids.",
         [("Vectors", 1), ("Dot product", 2), ("Matrices", 1)]),
        ("html", b"<html><body><h1>Waves</h1><h2>Frequency</h2><p>Counts per second.</p><h3>Units</h3><p>Hertz.</p>"
                 b"<h2>Amplitude</h2><p>Height.</p></body></html>",
         [("Waves", 1), ("Frequency", 2), ("Units", 3), ("Amplitude", 2)]),
    ],
)
def test_markup_heading_levels(kind, data, expected):
    assert [(b.section, b.level) for b in extract(data, kind).blocks] == expected


def test_docx_heading_styles_are_levels():
    import docx

    document = docx.Document()
    document.add_heading("Cell biology", level=0)  # the "Title" style
    document.add_heading("Organelles", level=1)
    document.add_paragraph("Mitochondria release energy.")
    document.add_heading("Membranes", level=2)
    document.add_paragraph("Membranes separate compartments.")
    buffer = io.BytesIO()
    document.save(buffer)
    blocks = extract(buffer.getvalue(), "docx").blocks
    assert [(b.section, b.level) for b in blocks] == [("Cell biology", 1), ("Organelles", 2), ("Membranes", 3)]
    # A single heading style still starts at level 1.
    flat = extract(make_docx([("Only", ["Text here."])]), "docx").blocks
    assert [(b.section, b.level) for b in flat] == [("Only", 1)]


def test_text_files_headings_are_short_lines_that_lead_text():
    assert [(b.section, b.level) for b in extract(b"Plain notes.\n\nMore notes.", "text").blocks] == [(None, None)]
    notes = b"Vectors\n\nA vector has a direction.\n\n1.1 Dot product\n\nIt multiplies lengths.\n\nLast line"
    blocks = extract(notes, "text").blocks
    assert [(b.section, b.level, b.text) for b in blocks] == [
        ("Vectors", 1, "A vector has a direction."),
        ("1.1 Dot product", 2, "It multiplies lengths.\n\nLast line"),  # a last short line leads nothing
    ]


def test_pdf_past_the_layout_cpu_budget_is_read_as_plain_text(settings):
    # Layout analysis gets half of EXTRACTION_CPU_SECONDS; pages after that keep their text and page.
    settings.EXTRACTION_CPU_SECONDS = 0
    blocks = extract(make_pdf_with_headings(PDF_PAGES), "pdf").blocks
    assert [b.page for b in blocks] == [1, 2]
    assert "Rubisco is the enzyme" in blocks[1].text and blocks[0].section is None
