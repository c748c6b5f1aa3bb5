/* The study pages: flashcard review (buttons and keys 1-4), deck/quiz generation with progress,
   and the quiz countdown. Intervals on the rating buttons come from the server's scheduler; this
   file only sends the rating. Text from cards and documents is never put in the page as HTML. */
"use strict";

(function () {
  const { api, showError } = window.TutorHub;

  // --- flashcard review --------------------------------------------------------------------
  const review = document.querySelector("[data-review-app]");
  if (review) {
    const error = review.querySelector("[data-review-error]");
    const remaining = review.querySelector("[data-review-remaining]");
    const done = review.querySelector("[data-review-done]");
    let shownAt = Date.now();
    let busy = false;

    const currentCard = () => review.querySelector(".review-card:not([hidden])");

    function showAnswer(card) {
      card.querySelector(".review-answer").hidden = false;
      card.querySelector("[data-show-answer]").hidden = true;
      const rating = card.querySelector(".rating");
      rating.hidden = false;
      rating.querySelector("[data-quality='4']").focus();
    }

    async function rate(card, quality) {
      if (busy) return;
      busy = true;
      showError(error, "");
      const url = review.dataset.reviewUrl.replace(review.dataset.placeholderId, card.dataset.cardId);
      try {
        await api(url, {
          method: "POST",
          json: { quality_response: quality, response_time_seconds: Math.round((Date.now() - shownAt) / 1000) },
        });
      } catch (err) {
        showError(error, err.message);
        busy = false;
        return;
      }
      busy = false;
      const next = card.nextElementSibling;
      card.remove();
      remaining.textContent = String(review.querySelectorAll(".review-card").length);
      if (next) {
        next.hidden = false;
        shownAt = Date.now();
        next.querySelector("[data-show-answer]").focus();
      } else {
        done.hidden = false;
      }
    }

    review.addEventListener("click", (event) => {
      const card = event.target.closest(".review-card");
      if (!card) return;
      if (event.target.closest("[data-show-answer]")) showAnswer(card);
      const button = event.target.closest("[data-quality]");
      if (button) rate(card, Number(button.dataset.quality));
    });

    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest("input, textarea, select")) return;
      const card = currentCard();
      if (!card) return;
      const answered = !card.querySelector(".rating").hidden;
      if (!answered && (event.key === " " || event.key === "Enter") && !event.target.closest("button, a")) {
        event.preventDefault();
        showAnswer(card);
      } else if (answered && ["1", "2", "3", "4"].includes(event.key)) {
        event.preventDefault();
        const buttons = card.querySelectorAll("[data-quality]");
        rate(card, Number(buttons[Number(event.key) - 1].dataset.quality));
      }
    });
  }

  // --- generate a deck or a quiz from a document ---------------------------------------------
  const generate = document.querySelector("[data-generate]");
  const form = generate && generate.querySelector("[data-generate-form]");
  if (form) {
    const error = form.querySelector("[data-generate-error]");
    const progress = form.querySelector("[data-generate-progress]");
    const bar = progress.querySelector("progress");
    const status = form.querySelector("[data-generate-status]");
    const button = form.querySelector("button[type=submit]");
    const url = (template, id) => template.replace(generate.dataset.placeholderId, id);

    function report(percent, text) {
      progress.hidden = false;
      bar.value = percent;
      status.textContent = text;
    }

    async function waitFor(assessmentId) {
      // Bounded: a generation that has not finished in 10 minutes is reported, not waited on.
      const deadline = Date.now() + 10 * 60 * 1000;
      while (Date.now() < deadline) {
        const assessment = await api(url(generate.dataset.statusUrl, assessmentId));
        if (assessment.status === "completed") return;
        if (assessment.status === "failed") throw new Error(assessment.error || "Generation failed.");
        report(assessment.progress_percentage, `Generating… ${assessment.progress_percentage}%`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      throw new Error("Generation is taking longer than expected; reload the page later.");
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(error, "");
      const document_id = form.elements.document.value;
      const count = Number(form.elements.count.value);
      const flashcards = generate.dataset.kind === "flashcards";
      const title = form.elements.document.selectedOptions[0].textContent;
      button.disabled = true;
      report(0, "Starting…");
      try {
        const assessment = await api(generate.dataset.createUrl, {
          method: "POST", json: { title: `${flashcards ? "Deck" : "Quiz"}: ${title}`.slice(0, 200) },
        });
        const started = await api(url(generate.dataset.generateUrl, assessment.id), {
          method: "POST",
          json: { document_ids: [document_id], flashcard_count: flashcards ? count : 0, quiz_questions: flashcards ? 0 : count },
        });
        if (started.progress_percentage !== undefined && started.generated_content === undefined) {
          await waitFor(assessment.id);
        }
        report(100, "Done.");
        window.location.reload();
      } catch (err) {
        progress.hidden = true;
        showError(error, err.message);
        button.disabled = false;
      }
    });
  }

  // --- quiz: answers saved as they are given, countdown ----------------------------------------
  const quiz = document.querySelector("[data-quiz-form]");
  if (quiz) {
    // Each answer is stored when given, so it counts even if the final submit arrives late.
    quiz.addEventListener("change", (event) => {
      const question = event.target.closest("[data-question-id]");
      if (!question) return;
      const checked = [...question.querySelectorAll("input[type=radio]:checked")].map((input) => input.value);
      const text = question.querySelector("input[type=text]");
      api(quiz.dataset.saveUrl, {
        method: "POST",
        json: { question: question.dataset.questionId, selected_options: checked, text_answer: text ? text.value : "" },
      }).catch((err) => showError(quiz.querySelector("[data-quiz-error]"), err.message));
    });
  }
  const timer = document.querySelector("[data-timer]");
  if (timer && quiz) {
    const text = timer.querySelector("[data-timer-text]");
    const end = Date.now() + Number(timer.dataset.secondsLeft) * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      text.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      if (left === 0) {
        clearInterval(handle);
        // The server refuses late answers anyway; submitting now shows the result at once.
        quiz.requestSubmit();
      }
    };
    const handle = setInterval(tick, 1000);
    tick();
  }
})();
