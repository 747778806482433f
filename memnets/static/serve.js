// memnets serve: the page's logic, plain JavaScript. Lists the models (GET api/models), sends a story and a
// question (POST api/answer), and draws the answer's attention (or MemNN's lookup scores) as a heatmap: one row
// per sentence, one column per hop or lookup, each hop's or lookup's pick outlined.
"use strict";

const $ = (id) => document.getElementById(id);
const KINDS = { memn2n: "End-To-End Memory Network", memnn: "Memory Network (MemNN)" };
let models = [];
let expected = null; // the answer of the test story shown, while the story and question are left as they are

function current() {
  return models.find((m) => m.name === $("model").value);
}

function showError(message) {
  $("result").hidden = false;
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearResult() {
  for (const id of ["error", "answer", "heatmap", "legend"]) $(id).hidden = true;
  $("warnings").replaceChildren();
  $("heatmap").replaceChildren();
}

async function loadModels() {
  try {
    const response = await fetch("api/models");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    models = (await response.json()).models;
  } catch (err) {
    showError(`Could not load the models from the server (${err.message}).`);
    return;
  }
  for (const m of models) $("model").add(new Option(m.name, m.name));
  modelChanged();
}

function modelChanged() {
  const m = current();
  if (!m) return;
  const errors = m.test_error
    ? "test error " + Object.entries(m.test_error).map(([t, e]) => `task ${t}: ${e.toFixed(1)}%`).join(", ")
    : "test error unknown";
  const count = m.kind === "memnn" ? m.config.lookups : m.config.hops;
  const steps = `${count} ${m.kind === "memnn" ? "lookup" : "hop"}${count === 1 ? "" : "s"}`;
  $("model-info").textContent = `${KINDS[m.kind] || m.kind}, ${steps}, memory of ${m.config.memory_size} ` +
    `sentences; task${m.tasks.length === 1 ? "" : "s"} ${m.tasks.join(", ")}; ${errors}`;
  const select = $("example");
  const none = m.stories.length ? "(type your own below)" : "(none available: type your own)";
  select.replaceChildren(new Option(none, ""));
  m.stories.forEach((s, i) => {
    select.add(new Option(`task ${s.task}: ${s.question} (${s.story.length} sentences)`, String(i)));
  });
  expected = null;
}

function exampleChanged() {
  const m = current();
  const s = m && m.stories[Number($("example").value)];
  if ($("example").value === "" || !s) {
    expected = null;
    return;
  }
  $("story").value = s.story.join("\n");
  $("question").value = s.question;
  expected = s.answer;
}

async function ask(event) {
  event.preventDefault();
  clearResult();
  const m = current();
  if (!m) {
    showError("No model is loaded.");
    return;
  }
  const story = $("story").value.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const body = JSON.stringify({ model: m.name, story, question: $("question").value });
  $("ask").disabled = true;
  try {
    const response = await fetch("api/answer", {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(data.detail || `The server refused the question (HTTP ${response.status}).`);
    } else {
      render(data);
    }
  } catch (err) {
    showError(`Could not reach the server (${err.message}).`);
  } finally {
    $("ask").disabled = false;
  }
}

function cell(value, low, high, chosen) {
  const td = document.createElement("td");
  td.className = "cell" + (chosen ? " chosen" : "");
  td.textContent = value.toFixed(2);
  const t = high > low ? (value - low) / (high - low) : 0; // 0..1: share of the table's range
  td.style.background = `rgba(33, 102, 172, ${(0.06 + 0.94 * t).toFixed(3)})`;
  td.style.color = t > 0.55 ? "#fff" : "#1d2430";
  return td;
}

function textCell(text, picks, step) {
  const td = document.createElement("td");
  td.className = "text";
  const words = document.createElement("span");
  words.className = "words";
  words.textContent = text;
  td.append(words);
  if (picks.length) {
    const mark = document.createElement("span");
    mark.className = "pick";
    mark.textContent = `\u2190 ${step} ${picks.join(",")}`;
    td.append(mark);
  }
  return td;
}

function render(data) {
  $("result").hidden = false;
  const steps = data.weights.length;
  const answer = $("answer");
  answer.replaceChildren();
  const word = document.createElement("span");
  word.className = "word";
  word.textContent = data.answer;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = data.probability !== null
    ? `  probability ${data.probability.toFixed(2)}` : `  score s_R ${data.score.toFixed(2)}`;
  answer.append(`Q: ${data.question}  A: `, word, score);
  if (expected !== null) {
    const mark = document.createElement("span");
    mark.className = data.answer === expected ? "right" : "wrong";
    mark.textContent = data.answer === expected ? "  (right)" : `  (wrong: the test answer is ${expected})`;
    answer.append(mark);
  }
  answer.hidden = false;
  for (const line of data.warnings) {
    const li = document.createElement("li");
    li.textContent = line;
    $("warnings").append(li);
  }

  const table = $("heatmap");
  const head = table.createTHead().insertRow();
  for (let k = 0; k < steps; k++) {
    const th = document.createElement("th");
    th.textContent = `${data.step} ${k + 1}`;
    head.append(th);
  }
  const th = document.createElement("th");
  th.className = "sentence";
  th.textContent = "sentence";
  head.append(th);

  // hops: attention is a probability, drawn on 0..1; lookups: scores s_O, drawn on the table's own range
  const values = data.weights.flat().concat(data.empty_slots || []);
  const low = data.step === "hop" ? 0 : Math.min(0, ...values);
  const high = data.step === "hop" ? 1 : Math.max(1e-9, ...values);
  const rows = table.createTBody();
  if (data.dropped > 0) {
    const tr = rows.insertRow();
    tr.className = "dropped";
    const td = tr.insertCell();
    td.colSpan = steps + 1;
    td.textContent = `(${data.dropped} earlier sentence(s) left out: not in the model's memory)`;
  }
  data.sentences.forEach((sentence, i) => {
    const tr = rows.insertRow();
    tr.className = "sentence";
    const picks = [];
    for (let k = 0; k < steps; k++) {
      tr.append(cell(data.weights[k][i], low, high, data.chosen[k] === i));
      if (data.chosen[k] === i) picks.push(k + 1);
    }
    tr.append(textCell(sentence, picks, data.step));
  });
  if (data.empty_slots && Math.max(...data.empty_slots) >= 0.005) {
    const tr = rows.insertRow();
    tr.className = "empty";
    data.empty_slots.forEach((w) => tr.append(cell(w, low, high, false)));
    tr.append(textCell("(empty memory slots)", [], data.step));
  }
  const stops = data.chosen.map((c, k) => (c === null ? k + 1 : null)).filter((k) => k !== null);
  if (data.step === "lookup" && stops.length) {
    const tr = rows.insertRow();
    tr.className = "stop";
    data.chosen.forEach((c) => {
      const td = tr.insertCell();
      td.className = "cell" + (c === null ? " chosen" : "");
      td.textContent = c === null ? "STOP" : "";
    });
    tr.append(textCell("(STOP: no further memory needed)", stops, data.step));
  }
  table.hidden = false;
  $("legend").textContent = data.step === "hop"
    ? "Each column is one hop's attention over the memory (with the empty slots, it sums to 1); " +
      "outlined: the hop's strongest."
    : "Each column is one lookup's score s_O of every sentence; outlined: the memory the lookup selected " +
      "(write time breaks near-ties).";
  $("legend").hidden = false;
}

$("model").addEventListener("change", () => { modelChanged(); clearResult(); });
$("example").addEventListener("change", exampleChanged);
for (const id of ["story", "question"]) {
  $(id).addEventListener("input", () => { expected = null; $("example").value = ""; });
}
$("ask-form").addEventListener("submit", ask);
loadModels();
