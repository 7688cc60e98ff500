// The segment builder: draws the rules (groups of conditions) from the catalog the page carries,
// keeps them as JSON in the form, and asks the server for the live count whenever they change.
// The server validates and compiles the rules (analytics/segments.py); this only edits them.
(function () {
  "use strict";

  const catalog = JSON.parse(document.getElementById("segment-catalog").textContent);
  const words = JSON.parse(document.getElementById("segment-words").textContent);
  const fields = Object.fromEntries(catalog.fields.map((f) => [f.key, f]));
  const root = document.getElementById("builder");
  const rulesInput = document.getElementById("rules");
  const countRules = document.getElementById("count-rules");
  const countForm = document.getElementById("count-form");
  let rules = JSON.parse(document.getElementById("rules-data").textContent) || {};
  if (!rules.conditions) rules = { match: "all", conditions: [] };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  function select(options, value, onchange, attrs) {
    const node = el("select", Object.assign({ onchange }, attrs || {}));
    options.forEach(([v, label]) => {
      const opt = el("option", { value: v, text: label });
      if (String(v) === String(value)) opt.selected = true;
      node.appendChild(opt);
    });
    return node;
  }

  function multi(options, values, onchange, attrs) {
    const chosen = new Set((values || []).map(String));
    const node = el("select", Object.assign({ multiple: true, onchange }, attrs || {}));
    options.forEach(([v, label]) => {
      const opt = el("option", { value: v, text: label });
      opt.selected = chosen.has(String(v));
      node.appendChild(opt);
    });
    return node;
  }

  function picked(node) {
    return Array.from(node.selectedOptions).map((o) => o.value);
  }

  function list(text) {
    return text.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
  }

  function number(value) {
    return value === "" ? null : value;
  }

  function changed() {
    draw();
    if (window.htmx) window.htmx.trigger(countForm, "rules-changed");
  }

  function fieldPicker(cond) {
    const node = el("select", {
      "data-testid": "field-select",
      onchange: (e) => {
        const spec = fields[e.target.value];
        Object.keys(cond).forEach((k) => delete cond[k]);
        Object.assign(cond, fresh(spec));
        changed();
      },
    });
    node.appendChild(el("option", { value: "", text: words.field }));
    const groups = {};
    catalog.fields.forEach((f) => {
      if (!groups[f.group]) groups[f.group] = node.appendChild(el("optgroup", { label: f.group }));
      const opt = el("option", { value: f.key, text: f.label });
      if (f.key === cond.field) opt.selected = true;
      groups[f.group].appendChild(opt);
    });
    return node;
  }

  // A new condition's starting values, so that it is valid as soon as a value is chosen.
  function fresh(spec) {
    const cond = { field: spec.key };
    if (spec.kind === "flag") cond.value = true;
    else if (spec.kind === "range") cond.value = [null, null];
    else if (spec.kind === "tags") Object.assign(cond, { op: "any", value: [] });
    else if (spec.kind === "consent") Object.assign(cond, { value: spec.choices[0][0], granted: true });
    else cond.value = [];
    if (spec.days) cond.days = spec.days;
    return cond;
  }

  function inputs(cond) {
    const spec = fields[cond.field];
    if (!spec) return [];
    const set = (key) => (v) => {
      cond[key] = v;
      changed();
    };
    switch (spec.kind) {
      case "choice":
        return [
          select([["in", words.in], ["not_in", words.not_in]], cond.op || "in", (e) => set("op")(e.target.value)),
          multi(spec.choices, cond.value, (e) => set("value")(picked(e.target)), { "data-testid": "value-select" }),
        ];
      case "flag":
        return [select([["true", words.yes], ["false", words.no]], String(cond.value !== false),
          (e) => set("value")(e.target.value === "true"), { "data-testid": "flag-select" })];
      case "range": {
        const [low, high] = cond.value || [null, null];
        const out = [
          el("span", { text: words.min }),
          el("input", { type: "number", step: "any", value: low ?? "", "data-testid": "range-min",
            onchange: (e) => set("value")([number(e.target.value), (cond.value || [])[1] ?? null]) }),
          el("span", { text: words.max }),
          el("input", { type: "number", step: "any", value: high ?? "", "data-testid": "range-max",
            onchange: (e) => set("value")([(cond.value || [])[0] ?? null, number(e.target.value)]) }),
          spec.unit ? el("span", { class: "muted", text: spec.unit }) : null,
        ];
        if (spec.days) out.push(...daysInput(cond, spec.key === "points_expiring" ? words.expiring_days : words.days));
        if (spec.stores) {
          out.push(el("span", { text: words.stores }),
            multi(catalog.stores, (cond.stores || []).map(String), (e) => set("stores")(picked(e.target).map(Number))));
        }
        return out;
      }
      case "tags":
        return [
          select([["any", words.tag_any], ["all", words.tag_all], ["none", words.tag_none]], cond.op || "any",
            (e) => set("op")(e.target.value)),
          textList(cond),
        ];
      case "text":
        return [select([["in", words.in], ["not_in", words.not_in]], cond.op || "in", (e) => set("op")(e.target.value)),
          textList(cond)];
      case "attribute":
        return [
          el("span", { text: words.attribute }),
          select([["", "—"], ...catalog.attributes.map((a) => [a.key, a.label])], cond.key || "",
            (e) => set("key")(e.target.value || null)),
          select([["in", words.in], ["not_in", words.not_in]], cond.op || "in", (e) => set("op")(e.target.value)),
          textList(cond),
        ];
      case "behaviour":
        return [textList(cond), ...daysInput(cond, words.days)];
      case "consent":
        return [
          select(spec.choices, cond.value, (e) => set("value")(e.target.value)),
          select([["true", words.granted], ["false", words.not_granted]], String(cond.granted !== false),
            (e) => set("granted")(e.target.value === "true")),
        ];
      default:
        return [];
    }
  }

  function textList(cond) {
    return el("input", { class: "list", value: (cond.value || []).join(", "), placeholder: words.values,
      "data-testid": "value-list", onchange: (e) => { cond.value = list(e.target.value); changed(); } });
  }

  function daysInput(cond, label) {
    return [el("span", { text: label }), el("input", { type: "number", min: 1, max: 3650, value: cond.days || "",
      "data-testid": "days", onchange: (e) => { cond.days = e.target.value ? Number(e.target.value) : undefined; changed(); } })];
  }

  function groupNode(group, parent, level) {
    const body = el("div", { class: "group", "data-testid": "group" });
    body.appendChild(el("div", { class: "cond" }, [
      el("span", { text: words.match }),
      select([["all", words.all], ["any", words.any]], group.match || "all", (e) => { group.match = e.target.value; changed(); },
        { "data-testid": "match-select" }),
      parent ? el("button", { type: "button", text: words.remove, onclick: () => {
        parent.conditions.splice(parent.conditions.indexOf(group), 1); changed(); } }) : null,
    ]));
    if (!group.conditions.length && !parent) body.appendChild(el("p", { class: "muted", text: words.every }));
    group.conditions.forEach((item) => {
      if (item.conditions) {
        body.appendChild(groupNode(item, group, level + 1));
        return;
      }
      body.appendChild(el("div", { class: "cond", "data-testid": "condition" }, [
        fieldPicker(item),
        ...inputs(item),
        el("button", { type: "button", text: words.remove, "data-testid": "remove-condition",
          onclick: () => { group.conditions.splice(group.conditions.indexOf(item), 1); changed(); } }),
      ]));
    });
    body.appendChild(el("div", { class: "cond" }, [
      el("button", { type: "button", text: words.add, "data-testid": "add-condition",
        onclick: () => { group.conditions.push({ field: "" }); draw(); } }),
      level < 3 ? el("button", { type: "button", text: words.add_group, "data-testid": "add-group",
        onclick: () => { group.conditions.push({ match: "any", conditions: [] }); changed(); } }) : null,
    ]));
    return body;
  }

  // Conditions without a field yet are left out of what is counted and saved.
  function withoutBlanks(group) {
    return { match: group.match || "all", conditions: group.conditions
      .filter((c) => c.conditions || c.field)
      .map((c) => (c.conditions ? withoutBlanks(c) : c)) };
  }

  function draw() {
    root.replaceChildren(groupNode(rules, null, 1));
    const json = JSON.stringify(withoutBlanks(rules));
    rulesInput.value = json;
    countRules.value = json;
  }

  draw();
})();
