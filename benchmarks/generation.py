"""Generation quality benchmark: the defects a teacher would throw out, per kind of document.

It builds five course documents of different kinds itself - a PDF with headings set in larger
and bold fonts (reportlab), a Word document with Heading styles, Markdown, HTML and plain text
(whose headings are bare lines) - on five subjects, uploads each through the real pipeline
(sniffing, sandboxed extraction, chunking, indexing, analysis), then asks
POST /api/v1/assessments/{id}/generate_content/ for flashcards and quiz questions from it.

Every item is judged against the document as the benchmark wrote it (its headings and
paragraphs), not against anything the generator computed:

- heading fragment: the item's text is not one stretch of a single paragraph, and a heading
  is in it ("What is Photosynthesis overview Photosynthesis?");
- visible answer: a term answer (or a word of it) is still shown in its question;
- bad distractor: an option repeated, a distractor that is, contains or is contained in the
  answer, has a repeated word ("Chlorophyll Chlorophyll"), is a verb phrase ("takes place"),
  is not in the document, or is far longer or shorter than the answer;
- not in cited chunk: the item's source chunk does not hold its answer (or cites nothing).

Prints, per kind, items made and the rate of each defect (target 0), plus document topics and
key concepts. Usage: python benchmarks/generation.py [--cards N] [--questions N]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A document: (level, heading, [paragraphs]) in reading order.
Outline = list[tuple[int, str, list[str]]]

PHOTOSYNTHESIS: Outline = [
    (1, "Photosynthesis", []),
    (2, "Photosynthesis overview", [
        "Photosynthesis is the process by which green plants use sunlight to make glucose from carbon dioxide and "
        "water. Chlorophyll is a green pigment that absorbs light energy in the chloroplasts. The chloroplast is an "
        "organelle found in plant cells where photosynthesis takes place.",
        "Stomata are small pores on the leaf surface that let carbon dioxide enter. Oxygen leaves the leaf through "
        "the same pores as a by-product of the light reactions.",
    ]),
    (2, "The light reactions", [
        "The light reactions happen in the thylakoid membranes and produce oxygen, ATP and NADPH. Photosystem II "
        "splits water molecules and releases oxygen gas. The thylakoid is a flattened sac inside the chloroplast.",
    ]),
    (2, "The Calvin cycle", [
        "The Calvin cycle takes place in the stroma and builds sugars from carbon dioxide. Rubisco is the enzyme "
        "that fixes carbon dioxide in the Calvin cycle. The stroma is the fluid that fills the inner space of the "
        "chloroplast.",
    ]),
    (3, "Limiting factors", [
        "Light intensity, carbon dioxide concentration and temperature limit the rate of photosynthesis. A limiting "
        "factor is the condition in shortest supply that holds the rate back.",
    ]),
]

CELLS: Outline = [
    (1, "The cell", [
        "The cell is the smallest unit of life that can reproduce on its own. Every living organism is made of "
        "one or more cells.",
    ]),
    (2, "Organelles", [
        "The nucleus is the organelle that holds the genetic material of the cell. Mitochondria are organelles "
        "that release energy from glucose by aerobic respiration. Ribosomes are small structures that build "
        "proteins from amino acids.",
        "The endoplasmic reticulum is a network of membranes that carries proteins through the cell. The Golgi "
        "apparatus is the organelle that packages proteins for transport.",
    ]),
    (2, "Membranes and transport", [
        "The cell membrane is a thin layer of lipids and proteins that controls what enters and leaves the cell. "
        "Diffusion is the movement of particles from a region of high concentration to a region of low "
        "concentration. Osmosis is the diffusion of water across a partially permeable membrane.",
    ]),
    (3, "Active transport", [
        "Active transport moves substances against a concentration gradient. It uses energy from respiration and "
        "carrier proteins in the cell membrane.",
    ]),
]

NEWTON: Outline = [
    (1, "Forces and motion", [
        "A force is a push or a pull that acts on an object. Forces are measured in newtons with a spring balance.",
    ]),
    (2, "Newton's laws", [
        "Inertia is the tendency of an object to keep its state of motion. The first law states that an object "
        "stays at rest or moves at constant velocity unless a resultant force acts on it.",
        "Acceleration is the rate of change of velocity. The second law links the resultant force, the mass of an "
        "object and its acceleration. Momentum is the product of the mass and the velocity of an object.",
    ]),
    (2, "Friction and drag", [
        "Friction is a force that opposes the motion of two surfaces in contact. Air resistance is a form of drag "
        "that grows with the speed of a moving object. Terminal velocity is the constant speed reached when drag "
        "balances the weight of a falling object.",
    ]),
    (3, "Weight and mass", [
        "Weight is the force of gravity on an object. Mass is the amount of matter in an object and does not "
        "change from place to place. The gravitational field strength on Earth is about ten newtons per kilogram.",
    ]),
]

WATER: Outline = [
    (1, "The water cycle", [
        "The water cycle is the continuous movement of water between the oceans, the atmosphere and the land.",
    ]),
    (2, "Evaporation and condensation", [
        "Evaporation is the change of liquid water into water vapour at the surface of oceans and lakes. "
        "Transpiration is the loss of water vapour from the leaves of plants. Condensation is the change of water "
        "vapour into liquid droplets as air cools.",
        "Clouds are large groups of tiny water droplets held in rising air. The dew point is the temperature at "
        "which air becomes saturated with water vapour.",
    ]),
    (2, "Precipitation and runoff", [
        "Precipitation is water that falls from clouds as rain, snow, sleet or hail. Surface runoff is the flow "
        "of rainwater over the ground into rivers. Infiltration is the movement of water from the surface into "
        "the soil.",
    ]),
    (3, "Groundwater", [
        "Groundwater is the water stored in the pores of rocks below the water table. An aquifer is a layer of "
        "permeable rock that holds groundwater and lets it flow.",
    ]),
]

REVOLUTION: Outline = [
    (1, "The French Revolution", [
        "The French Revolution was a period of political upheaval in France that began in 1789. The Estates "
        "General was the assembly of the three orders of French society.",
    ]),
    (2, "Causes", [
        "The ancien regime was the political and social system of France before 1789. Heavy taxation of the "
        "third estate and a national debt from foreign wars caused wide anger. The Enlightenment was a movement of "
        "ideas that questioned absolute monarchy and the privileges of the church.",
    ]),
    (2, "Events", [
        "The storming of the Bastille took place on 14 July 1789 in Paris. The Declaration of the Rights of Man "
        "is a document that set out the rights of citizens. The Reign of Terror was a period of mass executions "
        "led by the Committee of Public Safety.",
    ]),
    (3, "Consequences", [
        "The revolution ended the absolute monarchy and spread the ideas of liberty and equality across Europe. "
        "Napoleon Bonaparte was a general who seized power in 1799.",
    ]),
]


# --- building the documents ----------------------------------------------------------------------
def make_pdf_with_headings(pages: list[list[tuple[str, str]]]) -> bytes:
    """pages: [(style, text)] per page; style "h1" (20 pt bold), "h2" (14 pt bold), "h3" (11 pt
    bold, body size) or "p" (11 pt regular, wrapped at 90 characters)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    fonts = {"h1": ("Helvetica-Bold", 20), "h2": ("Helvetica-Bold", 14), "h3": ("Helvetica-Bold", 11),
             "p": ("Helvetica", 11)}
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for page in pages:
        y = 800
        for style, text in page:
            font, size = fonts[style]
            pdf.setFont(font, size)
            y -= size * 0.6 if style != "p" else 0
            for line in textwrap.wrap(text, 90) if style == "p" else [text]:
                pdf.drawString(50, y, line)
                y -= size * 1.3
            y -= 8  # paragraph spacing
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def build_pdf(outline: Outline) -> bytes:
    pages: list[list[tuple[str, str]]] = [[]]
    for level, heading, paragraphs in outline:
        if len(pages[-1]) >= 6:
            pages.append([])
        pages[-1].append((f"h{level}", heading))
        pages[-1].extend(("p", p) for p in paragraphs)
    return make_pdf_with_headings(pages)


def build_docx(outline: Outline) -> bytes:
    import docx

    document = docx.Document()
    for level, heading, paragraphs in outline:
        document.add_heading(heading, level=level)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def build_markdown(outline: Outline) -> bytes:
    parts = []
    for level, heading, paragraphs in outline:
        parts.append(f"{'#' * level} {heading}")
        parts.extend(paragraphs)
    return "\n\n".join(parts).encode()


def build_html(outline: Outline) -> bytes:
    from html import escape

    body = "".join(f"<h{level}>{escape(heading)}</h{level}>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
                   for level, heading, paragraphs in outline)
    return f"<!doctype html><html><head><title>{escape(outline[0][1])}</title></head><body><main>{body}</main></body></html>".encode()


def build_text(outline: Outline) -> bytes:
    # Plain notes: headings are bare lines, the way people type them.
    parts = []
    for _level, heading, paragraphs in outline:
        parts.append(heading)
        parts.extend(paragraphs)
    return "\n\n".join(parts).encode()


@dataclass
class Source:
    kind: str
    filename: str
    topic: str
    outline: Outline
    build: object

    @property
    def headings(self) -> list[str]:
        return [h for _level, h, _paragraphs in self.outline]

    @property
    def paragraphs(self) -> list[str]:
        return [p for _level, _h, paragraphs in self.outline for p in paragraphs]


SOURCES = [
    Source("pdf", "photosynthesis.pdf", "Photosynthesis", PHOTOSYNTHESIS, build_pdf),
    Source("docx", "cells.docx", "Cell biology", CELLS, build_docx),
    Source("markdown", "forces.md", "Forces and motion", NEWTON, build_markdown),
    Source("html", "water.html", "The water cycle", WATER, build_html),
    Source("text", "revolution.txt", "French Revolution", REVOLUTION, build_text),
]


# --- judging the items ---------------------------------------------------------------------------
DEFECTS = ("heading_fragment", "visible_answer", "bad_distractor", "answer_not_in_cited_chunk")
_TEMPLATES = [
    re.compile(r"^Fill in the blank: (?P<core>.+)$"),
    re.compile(r"^True or false: (?P<core>.+)$"),
    re.compile(r"^Which term is described as: \"(?P<core>.+)\"\?$"),
    re.compile(r"^What (?:is|are) (?P<core>.+)\?$"),
]
# Verb forms that make an option a clause, not a thing (independent of the generator's own list).
_VERB_FORMS = frozenset("""is are was were be been has have had do does did takes take took taken make makes made
use uses used happen happens happened let lets produce produces occurs occur occurred gives give given goes go
went moves move moved holds hold held""".split())
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall((text or "").lower()))


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def _content(text: str) -> set[str]:
    small = {"the", "a", "an", "of", "in", "on", "and", "or", "to", "for", "by", "with", "from", "is", "are", "that",
             "its", "their", "this", "as", "at", "it", "be"}
    return {_stem(w) for w in _WORD.findall((text or "").lower()) if w not in small and len(w) > 2}


def item_defects(item: dict, *, source: Source, chunk_text: str | None) -> set[str]:
    """The defect classes of one generated item (a flashcard or a question), judged against the
    document as written (`source`) and the text of the chunk the item cites."""
    question = item.get("question") or item.get("question_text") or ""
    answer = item.get("answer") or item.get("correct_answer") or ""
    options = item.get("options") or []
    is_question = "question_text" in item
    defects: set[str] = set()
    paragraphs = [_norm(p) for p in source.paragraphs]

    core = next((m.group("core") for t in _TEMPLATES if (m := t.match(question))), question)
    is_false = answer.strip().lower() == "false"
    if "_____" in core:
        core = core.replace("_____", answer, 1)
    if not is_false:  # a false statement is altered on purpose; its source sentence is judged below
        core_norm = _norm(core)
        if core_norm and not any(core_norm in p for p in paragraphs):
            if any(_norm(h) in core_norm for h in source.headings):
                defects.add("heading_fragment")
    explanation = item.get("explanation") or ""
    if explanation and not any(_norm(explanation) in p for p in paragraphs) and any(
            _norm(h) in _norm(explanation) for h in source.headings):
        defects.add("heading_fragment")

    term_answer = len(answer.split()) <= 5 and answer.lower() not in ("true", "false")
    if term_answer and "What is" not in question[:8] and "What are" not in question[:9]:
        shown = _content(question.replace("_____", " "))
        if _content(answer) & shown:
            defects.add("visible_answer")

    if is_question and item.get("question_type") == "multiple_choice":
        lowered = [_norm(o) for o in options]
        distractors = [o for o in options if _norm(o) != _norm(answer)]
        document = _norm(" ".join(source.paragraphs))
        if len(set(lowered)) != len(lowered) or lowered.count(_norm(answer)) != 1:
            defects.add("bad_distractor")
        for option in distractors:
            words = _norm(option).split()
            a = _norm(answer)
            if (
                len(set(words)) != len(words)
                or f" {a} " in f" {_norm(option)} " or f" {_norm(option)} " in f" {a} "
                or (term_answer and (set(words) & _VERB_FORMS or abs(len(words) - len(a.split())) > 2))
                or _norm(option) not in document
            ):
                defects.add("bad_distractor")
                break

    if chunk_text is None:
        defects.add("answer_not_in_cited_chunk")
    else:
        chunk = _norm(chunk_text)
        evidence = explanation if answer.strip().lower() in ("true", "false") else answer
        if _norm(evidence) not in chunk:
            defects.add("answer_not_in_cited_chunk")
    return defects


@dataclass
class KindReport:
    kind: str
    items: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEFECTS, 0))
    examples: dict[str, str] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    key_concepts: list[str] = field(default_factory=list)
    sections: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def run(cards: int, questions: int) -> list[KindReport]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import override_settings
    from rest_framework.test import APIClient

    from tutorhub.accounts.models import User
    from tutorhub.courses.models import Course
    from tutorhub.knowledge.models import Chunk

    call_command("migrate", verbosity=0)
    user = User.objects.create(username=f"bench-generation-{time.time_ns()}")
    client = APIClient(HTTP_HOST="localhost")
    client.force_authenticate(user)
    course = Course.objects.create(owner=user, name="Benchmark course")
    reports = []
    with override_settings(ASSESSMENT_SYNC_GENERATION_LIMIT=10_000):
        for source in SOURCES:
            report = KindReport(source.kind)
            started = time.perf_counter()
            upload = client.post(
                f"/api/v1/courses/{course.id}/documents/upload/",
                {"file": SimpleUploadedFile(source.filename, source.build(source.outline)), "name": source.topic},
                format="multipart",
            )
            assert upload.status_code == 201, upload.content
            doc_id = upload.json()["document"]["id"]
            content = client.get(f"/api/v1/courses/{course.id}/documents/{doc_id}/content/").json()
            report.topics, report.key_concepts = content.get("topics") or [], content.get("key_concepts") or []
            report.sections = [(s.get("title"), s.get("level"), s.get("page")) for s in content.get("sections") or []]
            assessment = client.post("/api/v1/assessments/", {"title": f"{source.topic} revision"}, format="json").json()
            response = client.post(f"/api/v1/assessments/{assessment['id']}/generate_content/", {
                "topic": source.topic, "document_ids": [doc_id], "flashcard_count": cards, "quiz_questions": questions,
            }, format="json")
            report.seconds = time.perf_counter() - started
            assert response.status_code == 200, response.content
            generated = response.json()["generated_content"]
            items = generated["flashcards"]["flashcards"] + generated["quiz"]["questions"]
            chunk_ids = {(i.get("source") or {}).get("chunk_id") for i in items} - {None}
            texts = dict(Chunk.objects.filter(pk__in=chunk_ids).values_list("pk", "text"))
            texts = {str(k): v for k, v in texts.items()}
            for item in items:
                chunk_id = (item.get("source") or {}).get("chunk_id")
                found = item_defects(item, source=source, chunk_text=texts.get(str(chunk_id)) if chunk_id else None)
                report.items += 1
                for defect in found:
                    report.counts[defect] += 1
                    report.examples.setdefault(defect, item.get("question") or item.get("question_text"))
            reports.append(report)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=15, help="flashcards asked for per document")
    parser.add_argument("--questions", type=int, default=15, help="quiz questions asked for per document")
    parser.add_argument("--examples", action="store_true", help="print one example item per defect")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tutorhub-bench-generation-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorhub.settings")
    os.environ["DATA_DIR"] = str(workdir)  # a fresh SQLite database, files and vector store
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    import django

    django.setup()
    print(f"load average {os.getloadavg()[0]:.2f}; workdir {workdir}")
    reports = run(args.cards, args.questions)
    header = f"{'kind':<9} {'items':>5} " + " ".join(f"{d:>26}" for d in DEFECTS) + "   seconds"
    print(header)
    totals = dict.fromkeys(DEFECTS, 0)
    for r in reports:
        rates = " ".join(f"{r.counts[d] / r.items if r.items else 0:>20.3f} ({r.counts[d]:>2})" for d in DEFECTS)
        print(f"{r.kind:<9} {r.items:>5} {rates}   {r.seconds:6.2f}")
        for d in DEFECTS:
            totals[d] += r.counts[d]
    n = sum(r.items for r in reports)
    print(f"{'all':<9} {n:>5} " + " ".join(f"{totals[d] / n if n else 0:>20.3f} ({totals[d]:>2})" for d in DEFECTS))
    for r in reports:
        print(f"\n{r.kind}: sections {r.sections}")
        print(f"  topics: {r.topics}")
        print(f"  key concepts: {r.key_concepts}")
        if args.examples:
            for defect, example in r.examples.items():
                print(f"  {defect}: {example}")


if __name__ == "__main__":
    main()
