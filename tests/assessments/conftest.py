from __future__ import annotations

import pytest

from tests.assessments.material import FRACTIONS, PHOTOSYNTHESIS
from tests.factories import CourseFactory, GroupFactory
from tutorhub.assessments import services


@pytest.fixture
def course(user):
    return CourseFactory(owner=user, name="Biology")


@pytest.fixture
def material(user):
    """Two of the user's text resources: plant biology (photosynthesis) and fractions."""
    from tutorhub.knowledge.services import resource_add

    return [
        resource_add(user=user, title="Plant biology notes", content=PHOTOSYNTHESIS),
        resource_add(user=user, title="Fractions notes", content=FRACTIONS),
    ]


@pytest.fixture
def make_card(user):
    def make(**kwargs):
        fields = {"question": "What is photosynthesis?", "answer": "Plants making food from light", **kwargs}
        return services.flashcard_create(user=fields.pop("user", user), **fields)

    return make


@pytest.fixture
def taught_course(teacher, user):
    """A course taught by `teacher` with `user` as a student in its group."""
    group = GroupFactory(teacher=teacher, course=CourseFactory(owner=teacher, name="Algebra"))
    group.students.add(user)
    return group.course


@pytest.fixture
def make_quiz(teacher, taught_course):
    """A teacher's quiz on a course `user` studies: q1 multiple choice (2 pts), q2 true/false, q3 short answer."""

    def make(**fields):
        quiz = services.quiz_create(user=teacher, title="Algebra basics", course=taught_course, topic="Algebra", **fields)
        services.question_create(
            quiz=quiz, question_text="2 + 2?", points=2, concept="Addition", explanation="Count on.",
            options=[{"text": "3"}, {"text": "4", "is_correct": True}, {"text": "5"}],
        )
        services.question_create(
            quiz=quiz, question_text="0 is even.", question_type="true_false", correct_text="true", concept="Parity",
        )
        services.question_create(
            quiz=quiz, question_text="Name the result of a multiplication.", question_type="short_answer",
            correct_text="product|the product", concept="Vocabulary",
        )
        return quiz

    return make
