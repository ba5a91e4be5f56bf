// tarjoman's page: sends the article to POST /v1/translate and shows each
// sentence record as it streams in (Server-Sent Events over fetch), Persian
// and English side by side, aligned line by line.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { rows: new Map(), records: [], controller: null, lines: 0, done: 0 };

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

function apiKey() {
  return $("api-key").value.trim();
}

function body(fields) {
  const key = apiKey();
  if (key) fields.api_key = key;
  return JSON.stringify(fields);
}

// One row per non-empty input line: the Persian first, the English as it
// comes.
function buildRows(text) {
  const pairs = $("pairs");
  pairs.querySelectorAll(".row:not(.head)").forEach((r) => r.remove());
  state.rows.clear();
  state.records = [];
  state.done = 0;
  $("warning-list").replaceChildren();
  $("warnings").hidden = true;
  $("summary").hidden = true;
  text.split("\n").forEach((line, number) => {
    if (!line.trim()) return;
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "row");
    row.dataset.line = String(number);
    const src = document.createElement("div");
    src.className = "src";
    src.dir = "rtl";
    src.lang = "fa";
    src.setAttribute("role", "cell");
    const rest = document.createElement("span");
    rest.className = "rest";
    rest.textContent = line;
    src.append(rest);
    const tgt = document.createElement("div");
    tgt.className = "tgt pending";
    tgt.dir = "ltr";
    tgt.lang = "en";
    tgt.setAttribute("role", "cell");
    tgt.setAttribute("aria-busy", "true");
    row.append(src, tgt);
    pairs.append(row);
    state.rows.set(number, { row, src, tgt, rest, line, used: 0, count: 0 });
  });
  state.lines = state.rows.size;
}

function sentenceSpan(text, index, lang) {
  const span = document.createElement("span");
  span.className = "s";
  span.dataset.index = String(index);
  span.tabIndex = 0;
  span.lang = lang;
  span.textContent = text;
  return span;
}

// Confidence bands, as `tarjoman translate --mark-uncertain` draws the line
// (its default threshold is the upper edge of "low").
const CONFIDENCE_LOW = 0.5;
const CONFIDENCE_HIGH = 0.75;

// Shades an English sentence by the translator's confidence in it: the
// low ones are the ones to check against the Persian first.
function showConfidence(span, confidence) {
  if (typeof confidence !== "number") return;
  const band = confidence < CONFIDENCE_LOW ? "low" : confidence < CONFIDENCE_HIGH ? "mid" : "high";
  span.classList.add("conf-" + band);
  span.dataset.confidence = confidence.toFixed(2);
  span.title = "confidence " + confidence.toFixed(2) + (band === "low" ? ": check this sentence" : "");
}

function showRecord(record) {
  state.records.push(record);
  const entry = state.rows.get(record.line);
  if (!entry) return;
  // The Persian sentence: cut from what is left of its line.
  const at = entry.line.indexOf(record.source, entry.used);
  if (at >= 0) {
    const before = entry.line.slice(entry.used, at);
    if (before) entry.src.insertBefore(document.createTextNode(before), entry.rest);
    entry.src.insertBefore(sentenceSpan(record.source, record.index, "fa"), entry.rest);
    entry.used = at + record.source.length;
    entry.rest.textContent = entry.line.slice(entry.used);
  }
  if (entry.count > 0) entry.tgt.append(" ");
  const english = sentenceSpan(record.translation, record.index, "en");
  // Metadata (a leading date line) passes through untranslated, unscored.
  if (record.kind === "metadata") english.classList.add("meta");
  showConfidence(english, record.confidence);
  if (record.warnings && record.warnings.length) {
    english.classList.add("warn");
    english.title = [english.title, ...record.warnings].filter(Boolean).join("\n");
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = "⚠";
    mark.setAttribute("aria-label", "warning: " + record.warnings.join("; "));
    entry.tgt.append(english, mark);
    record.warnings.forEach((w) => {
      const item = document.createElement("li");
      item.textContent = "Line " + (record.line + 1) + ": " + w;
      $("warning-list").append(item);
    });
    $("warnings").hidden = false;
  } else {
    entry.tgt.append(english);
  }
  entry.count += 1;
  if (!entry.rest.textContent.trim()) {
    entry.tgt.classList.remove("pending");
    entry.tgt.removeAttribute("aria-busy");
    entry.row.classList.add("done");
    state.done += 1;
  }
  setStatus("Translated " + state.records.length + " sentences (" + state.done + " of " + state.lines + " lines)…");
}

function finishRows() {
  state.rows.forEach((entry) => {
    entry.tgt.classList.remove("pending");
    entry.tgt.removeAttribute("aria-busy");
  });
}

// Parses Server-Sent Events from a fetch body.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}

async function errorOf(response) {
  try {
    const json = await response.json();
    return json.error || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

async function translate() {
  const text = $("source-text").value;
  if (!text.trim()) {
    setStatus("Paste some Persian text first.", true);
    $("source-text").focus();
    return;
  }
  buildRows(text);
  document.body.dataset.done = "false";
  setBusy(true);
  setStatus("Waiting for the model…");
  const controller = new AbortController();
  state.controller = controller;
  const started = performance.now();
  try {
    const response = await fetch("/v1/translate", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: body({ text }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      const message = await errorOf(response);
      setStatus(message + (retry ? " (try again in " + retry + " s)" : ""), true);
      return;
    }
    let failed = null;
    await readEvents(response, (event, data) => {
      if (event === "record") showRecord(JSON.parse(data));
      else if (event === "error") failed = JSON.parse(data).error;
    });
    if (failed) setStatus(failed, true);
    else {
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      setStatus("Done: " + state.records.length + " sentences in " + secs + " s.");
      document.body.dataset.done = "true";
    }
  } catch (err) {
    if (err.name === "AbortError") setStatus("Stopped.");
    else setStatus("Translation failed: " + err.message, true);
  } finally {
    finishRows();
    setBusy(false);
    state.controller = null;
  }
}

function setBusy(busy) {
  $("translate").disabled = busy;
  $("stop").disabled = !busy;
  const has = state.records.length > 0 && !busy;
  ["copy", "download", "summarize"].forEach((id) => { $(id).disabled = !has; });
}

// The English, one line per input line.
function english() {
  const lines = new Map();
  state.records.forEach((r) => {
    const line = lines.get(r.line);
    lines.set(r.line, line ? line + " " + r.translation : r.translation);
  });
  return [...lines.keys()].sort((a, b) => a - b).map((k) => lines.get(k)).join("\n") + "\n";
}

async function copyEnglish() {
  const text = english();
  try {
    await navigator.clipboard.writeText(text);
    setStatus("Copied the English to the clipboard.");
  } catch (_) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    setStatus("Copied the English.");
  }
}

function downloadEnglish() {
  const url = URL.createObjectURL(new Blob([english()], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "translation.en.txt";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function summarize() {
  const pane = $("summary");
  const out = $("summary-text");
  pane.hidden = false;
  out.textContent = "Summarizing…";
  out.classList.remove("error");
  $("summarize").disabled = true;
  try {
    const response = await fetch("/v1/summarize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body({ text: english() }),
    });
    if (!response.ok) {
      out.textContent = await errorOf(response);
      out.classList.add("error");
      return;
    }
    const json = await response.json();
    const list = document.createElement("ul");
    json.sentences.forEach((s) => {
      const item = document.createElement("li");
      item.textContent = s;
      list.append(item);
    });
    out.replaceChildren(list);
  } catch (err) {
    out.textContent = "Summary failed: " + err.message;
    out.classList.add("error");
  } finally {
    $("summarize").disabled = false;
  }
}

// Hovering or focusing a sentence highlights it and its translation.
function highlight(event, on) {
  const span = event.target.closest && event.target.closest(".s");
  if (!span) return;
  document.querySelectorAll('.s[data-index="' + span.dataset.index + '"]')
    .forEach((s) => s.classList.toggle("hi", on));
}

function loadFile(file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    $("source-text").value = String(reader.result);
    setStatus("Loaded " + file.name + ".");
  };
  reader.onerror = () => setStatus("Cannot read " + file.name + ".", true);
  reader.readAsText(file);
}

async function showModel() {
  try {
    // With an API key set, only a request carrying it learns the model.
    const key = apiKey();
    const headers = key ? { Authorization: "Bearer " + key } : {};
    const response = await fetch("/health", { headers });
    const json = await response.json();
    $("model").textContent = json.model ? "Model: " + json.model : "";
    if (!json.summarizes) $("summarize").title = "This model does not write summaries";
  } catch (_) {
    $("model").textContent = "";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const key = localStorage.getItem("tarjoman-api-key");
  if (key) $("api-key").value = key;
  $("api-key").addEventListener("change", () => {
    localStorage.setItem("tarjoman-api-key", apiKey());
    showModel();
  });
  $("translate").addEventListener("click", translate);
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("copy").addEventListener("click", copyEnglish);
  $("download").addEventListener("click", downloadEnglish);
  $("summarize").addEventListener("click", summarize);
  $("file").addEventListener("change", (e) => loadFile(e.target.files[0]));
  const area = $("source-text");
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) translate();
  });
  area.addEventListener("dragover", (e) => { e.preventDefault(); area.classList.add("dragging"); });
  area.addEventListener("dragleave", () => area.classList.remove("dragging"));
  area.addEventListener("drop", (e) => {
    e.preventDefault();
    area.classList.remove("dragging");
    loadFile(e.dataTransfer.files[0]);
  });
  const pairs = $("pairs");
  pairs.addEventListener("mouseover", (e) => highlight(e, true));
  pairs.addEventListener("mouseout", (e) => highlight(e, false));
  pairs.addEventListener("focusin", (e) => highlight(e, true));
  pairs.addEventListener("focusout", (e) => highlight(e, false));
  showModel();
});
