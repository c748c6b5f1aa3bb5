"""One student's realistic data for the list endpoints: benchmarks/http_api.py seeds it at full
size in its server's database, tests/core/test_query_counts.py at 1 and 21 rows a list.

Documents carry real extracted_text (paragraphs of words, `paragraphs` of them: 400 make ~300 KB),
so a query that loads it where nothing shows it costs what it would in production."""

from __future__ import annotations

import random
from datetime import date

PASSWORD = "bench-Password-1"
WORDS = (
    "cell membrane protein energy photosynthesis chlorophyll light reaction glucose enzyme "
    "mitochondria respiration oxygen carbon dioxide water gradient transport diffusion"
).split()


def seed(*, documents: int = 6, paragraphs: int = 400, chunks_per_document: int = 40, cards: int = 100,
         quizzes: int = 20, sessions: int = 50, pairs: int = 8, notifications: int = 60, groups: int = 10,
         peers: int = 15, prefix: str = "bench") -> dict:
    """Create the data; returns {"user": the student, "session": the first chat session}."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tutorhub.assessments.models import Flashcard, Option, Question, Quiz
    from tutorhub.chat.models import ChatSession, Message
    from tutorhub.courses.models import Course, Group
    from tutorhub.engagement.models import Notification
    from tutorhub.knowledge.models import Chunk, Document

    rng = random.Random(17)
    User = get_user_model()

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    def paragraph() -> str:
        return " ".join(sentence(rng.randint(8, 18)) for _ in range(6))

    student = User.objects.create_user(f"{prefix}-student", f"{prefix}@example.org", PASSWORD, role="student",
                                       first_name="Bench", last_name="Student")
    teacher = User.objects.create_user(f"{prefix}-teacher", f"{prefix}-teacher@example.org", PASSWORD, role="teacher")
    courses = [Course.objects.create(owner=teacher, name=f"Biology {i}", subject_area="Biology") for i in range(3)]
    chunks: list = []
    for d in range(documents):
        texts = [paragraph() for _ in range(paragraphs)]
        document = Document.objects.create(
            owner=student, course=courses[d % 3], name=f"Chapter {d}.pdf", document_type="pdf",
            processing_status="completed", progress_percentage=100, extracted_text="\n\n".join(texts),
            outline=[{"title": f"Section {i}", "level": 1, "page": i + 1, "start": 0, "end": 100} for i in range(50)],
            summary=texts[0], topics=["photosynthesis", "respiration"], key_concepts=["enzyme", "gradient"],
            file_size_bytes=sum(map(len, texts)), page_count=max(1, paragraphs // 4), processed_at=timezone.now(),
        )
        chunks += Chunk.objects.bulk_create(
            [Chunk(document=document, position=i, text=text, page=i // 4 + 1, section="Chapter", token_count=120)
             for i, text in enumerate(texts[:chunks_per_document])]
        )
    Flashcard.objects.bulk_create([
        Flashcard(user=student, course=courses[i % 3], source_chunk=chunks[i % len(chunks)] if chunks else None,
                  question=f"What does {rng.choice(WORDS)} do? ({i})", answer=sentence(12), explanation=sentence(20),
                  tags=["biology"])
        for i in range(cards)
    ])
    for q in range(quizzes):
        quiz = Quiz.objects.create(owner=student, course=courses[q % 3], title=f"Quiz {q}", description=sentence(15),
                                   subject="Biology", topic="Cells", is_generated=True, ai_model_used="offline-rules")
        for n in range(5):
            question = Question.objects.create(
                quiz=quiz, source_chunk=chunks[(q * 5 + n) % len(chunks)] if chunks else None,
                question_text=sentence(10) + "?", explanation=sentence(15), order=n,
            )
            Option.objects.bulk_create([Option(question=question, text=sentence(5), is_correct=o == 0, order=o) for o in range(4)])
    first = None
    for s in range(sessions):
        session = ChatSession.objects.create(owner=student, title=f"Chat {s}", course=courses[s % 3])
        first = first or session
        for _ in range(pairs):
            question = Message.objects.create(session=session, role="user", content=sentence(12))
            Message.objects.create(session=session, role="assistant", content=paragraph(), reply_to=question,
                                   model_used="offline-extractive", token_count=150,
                                   context_used={"citations": [{"n": 1, "document_id": None, "text": sentence(30)}]})
    Notification.objects.bulk_create([
        Notification(user=student, kind="homework_reviewed", title=f"Homework {n} reviewed", message=sentence(14),
                     data={"homework": n}, is_read=n % 3 == 0)
        for n in range(notifications)
    ])
    for g in range(groups):
        group = Group.objects.create(name=f"Group {g}", course=courses[g % 3], teacher=teacher, description=sentence(10),
                                     start_date=date(2026, 1, 5), end_date=date(2026, 3, 27), max_students=30)
        others = User.objects.bulk_create(
            [User(username=f"{prefix}-peer{g}-{i}", email=f"{prefix}-peer{g}-{i}@example.org", role="student")
             for i in range(peers)]
        )
        group.students.add(student, *others)
    return {"user": student, "session": first}
