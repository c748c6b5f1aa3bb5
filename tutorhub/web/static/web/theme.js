/* Light/dark theme. Loaded synchronously in <head> so the chosen theme is on <html> before the
   body paints (no flash of the wrong theme). The choice made with the toggle is remembered in
   localStorage; without one the system preference decides, and a change of it applies live. */
"use strict";

(function () {
  const KEY = "tutorhub-theme";
  const system = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      const value = localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (err) {
      return null; // storage disabled: follow the system
    }
  }

  function current() {
    return stored() || (system.matches ? "dark" : "light");
  }

  function apply() {
    const theme = current();
    document.documentElement.dataset.theme = theme;
    const toggle = document.querySelector("[data-theme-toggle]");
    if (toggle) toggle.setAttribute("aria-pressed", String(theme === "dark"));
  }

  apply();
  system.addEventListener("change", apply);
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    const toggle = document.querySelector("[data-theme-toggle]");
    if (!toggle) return;
    toggle.addEventListener("click", function () {
      try {
        localStorage.setItem(KEY, current() === "dark" ? "light" : "dark");
      } catch (err) {
        document.documentElement.dataset.theme = current() === "dark" ? "light" : "dark";
        return;
      }
      apply();
    });
  });
})();
