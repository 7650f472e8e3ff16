/* Plan builder (admin): show the price fields the chosen pricing model uses, and add tier rows.
   Progressive: without JavaScript every field is shown and each charge has a few blank tier rows. */
"use strict";
(function () {
  const FIELDS_BY_MODEL = {
    flat: ["amount"],
    per_unit: ["unit_amount"],
    package: ["package_size", "package_amount"],
    graduated: ["tiers"],
    volume: ["tiers"],
    stairstep: ["tiers"],
    percentage: ["rate", "fixed_amount"],
  };
  const MODEL_FIELDS = ["unit_amount", "amount", "package_size", "package_amount", "rate", "fixed_amount", "tiers"];

  function hasErrors(element) {
    return element.querySelector(".errorlist") !== null;
  }

  function showFieldsFor(charge) {
    const select = charge.querySelector('select[name$="-model"]');
    if (!select) return;
    const wanted = FIELDS_BY_MODEL[select.value];
    MODEL_FIELDS.forEach(function (name) {
      const show = !wanted || wanted.includes(name);
      const selector = name === "tiers" ? ".catalog-tiers" : ".fieldBox.field-" + name + ", .form-row.field-" + name;
      charge.querySelectorAll(selector).forEach(function (element) {
        element.hidden = !show && !hasErrors(element);
      });
    });
    // A line whose boxes are all hidden is hidden too.
    charge.querySelectorAll(".form-row").forEach(function (row) {
      const boxes = row.querySelectorAll(".fieldBox");
      if (boxes.length) row.hidden = Array.from(boxes).every(function (box) { return box.hidden; });
    });
    // A section ("Price") whose lines are all hidden loses its header too (tiered models).
    charge.querySelectorAll("fieldset.module:not(.catalog-tiers)").forEach(function (section) {
      const rows = section.querySelectorAll(".form-row");
      if (rows.length) section.hidden = Array.from(rows).every(function (row) { return row.hidden; });
    });
  }

  function addTierRow(button) {
    const tiers = button.closest(".catalog-tiers");
    const total = tiers.querySelector('input[name$="-TOTAL_FORMS"]');
    const prefix = total.name.slice(0, -"-TOTAL_FORMS".length);
    const rows = tiers.querySelectorAll("tr.catalog-tier-row");
    const last = rows[rows.length - 1];
    const index = parseInt(total.value, 10);
    const row = last.cloneNode(true);
    const pattern = new RegExp(prefix.replace(/[-[\]{}()*+?.,\\^$|#]/g, "\\$&") + "-\\d+-");
    row.querySelectorAll("input, label").forEach(function (element) {
      ["name", "id", "for"].forEach(function (attribute) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replace(pattern, prefix + "-" + index + "-"));
      });
      if (element.tagName === "INPUT") element.value = "";
    });
    row.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    row.querySelector(".catalog-tier-number").textContent = String(index + 1);
    last.after(row);
    total.value = String(index + 1);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches('.catalog-charge select[name$="-model"]')) {
      showFieldsFor(event.target.closest(".catalog-charge"));
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.matches(".catalog-add-tier")) {
      event.preventDefault();
      addTierRow(event.target);
    }
  });
  document.addEventListener("formset:added", function (event) {
    const charge = event.target.closest ? event.target.closest(".catalog-charge") : null;
    if (charge) showFieldsFor(charge);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".catalog-charge:not(.empty-form)").forEach(showFieldsFor);
  });
})();
