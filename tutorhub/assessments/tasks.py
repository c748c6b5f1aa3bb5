"""Background work for assessments. Tasks take ids and call one service."""

from __future__ import annotations

import logging

from django_tasks import task
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)


@task()
def assessment_generate_task(assessment_id: str, params: dict) -> str:
    from tutorhub.assessments.services.generation import assessment_generate_content

    try:
        assessment_generate_content(assessment_id=assessment_id, params=params)
    except APIException as exc:  # stored on the assessment (status "failed") for the client to poll
        logger.info("generation for assessment %s failed: %s", assessment_id, exc)
        return "failed"
    return "completed"
