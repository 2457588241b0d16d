// darkroom's demo page: plain JavaScript, no build step, no third-party hosts.
// On load it pre-warms a worker (POST /v1/warm) so one boots while a photo is picked.
// Small JPEG/PNG go to POST /v1/jobs as multipart; RAW and large files go straight to
// storage (POST /v1/uploads, then the presigned form POST), then POST /v1/jobs by upload id.
"use strict";

const RAW_EXTENSIONS = ["dng", "arw", "nef", "cr2", "raf", "orf", "rw2"];
const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png"];
const DIRECT_UPLOAD_ABOVE = 8 * 1024 * 1024; // bytes; RAW always goes direct
const POOL_REFRESH_MS = 5000;
const POOL_REFRESH_FOR_MS = 5 * 60 * 1000;
const POLL_DEFAULT_S = 2;
const POLL_MAX_S = 15;

const $ = (id) => document.getElementById(id);
const state = { file: null, previewUrl: null, busy: false, poolTimer: null, poolSince: Date.now() };

// ---- words for people ------------------------------------------------------

const PROBLEM_WORDS = {
  "content-too-large": (p) => `That file is too large. ${p.detail}`,
  "unsupported-media-type": () =>
    "That file isn't a photo darkroom can read. Choose a JPEG, a PNG or a camera RAW file (DNG, ARW, NEF, CR2, RAF, ORF, RW2).",
  "corrupt-image": (p) => `That photo seems damaged or incomplete, so it can't be read. (${p.detail})`,
  "too-many-pixels": (p) => `That photo has more pixels than darkroom accepts. (${p.detail})`,
  "empty-upload": () => "That file is empty.",
  "missing-image": () => "No photo arrived. Please choose one and try again.",
  "invalid-ratio": (p) => `That brightening amount can't be used: ${p.detail}`,
  "length-required": () => "Your browser sent the photo in a way the server can't read. Please try again.",
  "service-unavailable": () => "darkroom's storage or queue isn't answering right now. Try again in a few seconds.",
  "too-many-requests": (p) => `Too many requests from here just now. ${p.detail}`,
  "upload-size-mismatch": () => "The photo arrived incomplete or with a different size than announced. Please try again.",
  "upload-missing": () => "The photo didn't reach storage. Please try again.",
  "upload-not-found": () => "That upload expired or doesn't exist. Please choose the photo again.",
  "upload-used": () => "That upload was already submitted.",
  "upload-changed": () => "The photo changed while it was being checked. Please send it again.",
  "invalid-callback-url": (p) => p.detail,
  "internal-error": () => "Something went wrong on our side. Please try again.",
};

function problemWords(problem, status) {
  const slug = String(problem && problem.type || "").replace("urn:darkroom:problem:", "");
  const words = PROBLEM_WORDS[slug];
  if (words) return words(problem);
  if (problem && problem.detail) return problem.detail;
  return `The server answered with an error (HTTP ${status}).`;
}

function failureWords(error) {
  const message = error && error.message ? error.message : "no reason was given";
  if (error && error.code === "gave-up") return `The job failed after several tries: ${message}`;
  if (error && error.code === "worker-crashed") return "The job failed: the worker stopped on every try. Please try again later.";
  return `The job failed: ${message}`;
}

function describePool(pool) {
  if (!pool.enabled) return ["ready", "A worker is on and ready."];
  const states = pool.workers.map((w) => w.state);
  const ready = states.filter((s) => s === "ready").length;
  const busy = states.filter((s) => s === "busy").length;
  const booting = states.filter((s) => s === "booting").length + (pool.launching || 0);
  const waiting = pool.queue && pool.queue.visible ? pool.queue.visible : 0;
  if (ready) return ["ready", ready > 1 ? `${ready} workers are ready.` : "A worker is ready."];
  if (busy) return ["ready", `Workers are busy${waiting ? ` (${waiting} photo${waiting > 1 ? "s" : ""} waiting)` : ""}; yours will join the line.`];
  if (booting) return ["starting", `Starting a worker: this usually takes about ${Math.round(pool.boot_seconds)} s. Pick a photo meanwhile.`];
  if (pool.last_launch && pool.last_launch.error)
    return ["trouble", `No worker capacity is available right now (${pool.last_launch.error}). Photos will wait until a worker can start.`];
  return ["starting", "No worker is running; one starts when you send a photo."];
}

function eta(seconds) {
  if (!seconds) return "";
  return seconds < 90 ? ` About ${seconds} s to go.` : ` About ${Math.round(seconds / 60)} min to go.`;
}

// ---- the pool ----------------------------------------------------------------

function showPool(pool) {
  const [kind, words] = describePool(pool);
  const line = $("pool");
  line.className = `pool ${kind}`;
  line.textContent = words;
  return kind;
}

async function warm() {
  try {
    let reply = await fetch("/v1/warm", { method: "POST" });
    if (reply.status === 429) reply = await fetch("/v1/pool");
    if (!reply.ok) throw new Error(problemWords(await readJson(reply), reply.status));
    if (showPool(await reply.json()) !== "ready") schedulePoolRefresh();
  } catch (err) {
    $("pool").className = "pool trouble";
    $("pool").textContent = `Couldn't check for a worker: ${err.message}`;
  }
}

function schedulePoolRefresh() {
  if (Date.now() - state.poolSince > POOL_REFRESH_FOR_MS) return;
  clearTimeout(state.poolTimer);
  state.poolTimer = setTimeout(async () => {
    try {
      const reply = await fetch("/v1/pool");
      if (reply.ok && showPool(await reply.json()) !== "ready") schedulePoolRefresh();
    } catch (err) {
      schedulePoolRefresh();
    }
  }, POOL_REFRESH_MS);
}

// ---- choosing a file ---------------------------------------------------------

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

function choose(file) {
  hideError();
  if (!file) return;
  const ext = extensionOf(file.name);
  if (!RAW_EXTENSIONS.includes(ext) && !IMAGE_EXTENSIONS.includes(ext)) {
    showError(`“${file.name}” isn't a photo darkroom can read. Choose a JPEG, a PNG or a camera RAW file.`);
    return;
  }
  state.file = file;
  $("chosen").textContent = `${file.name} (${formatBytes(file.size)})`;
  $("go").disabled = false;
  showInput(file, ext);
}

function showInput(file, ext) {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  const raw = RAW_EXTENSIONS.includes(ext);
  state.previewUrl = raw ? null : URL.createObjectURL(file);
  $("panels").hidden = false;
  $("result").hidden = true;
  $("input").hidden = raw;
  $("input-placeholder").hidden = !raw;
  $("input-placeholder").textContent = RAW_PLACEHOLDER;
  if (!raw) $("input").src = state.previewUrl;
}

const RAW_PLACEHOLDER = "A RAW file cannot be shown in a browser; the result will show what it holds.";

function previewFailed() {
  $("input").hidden = true;
  $("input-placeholder").hidden = false;
  $("input-placeholder").textContent = "Your browser can't show this file as a picture.";
}

function formatBytes(n) {
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---- sending -------------------------------------------------------------------

function readJson(reply) {
  return reply.json().catch(() => null);
}

// XMLHttpRequest, not fetch: only it reports upload progress.
function send(method, url, body, label) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((100 * event.loaded) / event.total);
      $("progress").value = percent;
      setStage(`${label}: ${percent}%`);
    };
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch (err) { json = null; }
      resolve({ status: xhr.status, json, retryAfter: xhr.getResponseHeader("Retry-After") });
    };
    xhr.onerror = () => reject(new Error("Couldn't reach the server. Check your connection and try again."));
    xhr.send(body);
  });
}

async function postJson(url, body) {
  const reply = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: reply.status, json: await readJson(reply) };
}

function expect(reply, status) {
  if (reply.status !== status) throw new Error(problemWords(reply.json, reply.status));
  return reply.json;
}

async function submitDirect(file, ratio) {
  const upload = expect(await postJson("/v1/uploads", { filename: file.name, size: file.size }), 201);
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file); // S3 wants the file last
  const stored = await send("POST", upload.url, form, "Uploading to storage");
  if (stored.status < 200 || stored.status >= 300)
    throw new Error(`The upload to storage failed (HTTP ${stored.status}). Please try again.`);
  setStage("Checking the photo…");
  return expect(await postJson("/v1/jobs", { upload_id: upload.id, ratio }), 202);
}

async function submitForm(file, ratio) {
  const form = new FormData();
  form.append("ratio", ratio);
  form.append("image", file);
  return expect(await send("POST", "/v1/jobs", form, "Uploading"), 202);
}

async function submit(event) {
  event.preventDefault();
  if (!state.file || state.busy) return;
  const file = state.file;
  const ratio = $("ratio").value;
  const direct = RAW_EXTENSIONS.includes(extensionOf(file.name)) || file.size > DIRECT_UPLOAD_ABOVE;
  state.busy = true;
  $("go").disabled = true;
  $("result").hidden = true;
  hideError();
  $("progress").hidden = false;
  $("progress").value = 0;
  try {
    const job = direct ? await submitDirect(file, ratio) : await submitForm(file, ratio);
    $("progress").hidden = true;
    showJob(job);
    await follow(job.id);
  } catch (err) {
    $("progress").hidden = true;
    setStage("");
    showError(err.message);
  } finally {
    state.busy = false;
    $("go").disabled = !state.file;
  }
}

// ---- following the job ---------------------------------------------------------

function showJob(job) {
  if (job.status === "queued") setStage(`Waiting for a worker.${job.note ? ` ${capitalize(job.note)}.` : ""}${eta(job.eta_seconds)}`);
  else if (job.status === "processing") setStage(`Brightening your photo…${eta(job.eta_seconds)}`);
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function follow(jobId) {
  for (;;) {
    let reply;
    try {
      reply = await fetch(`/v1/jobs/${jobId}`);
    } catch (err) {
      setStage("Lost the connection; trying again…");
      await sleep(POLL_MAX_S);
      continue;
    }
    const job = await readJson(reply);
    if (!reply.ok) throw new Error(problemWords(job, reply.status));
    if (job.status === "done") return showResult(job);
    if (job.status === "failed") throw new Error(failureWords(job.error));
    showJob(job);
    const wait = Number(reply.headers.get("Retry-After"));
    await sleep(Math.min(POLL_MAX_S, wait > 0 ? wait : POLL_DEFAULT_S));
  }
}

function showResult(job) {
  const result = job.result;
  const raw = job.kind === "raw";
  setStage(`Done: brightened ${job.ratio_used ? `${Math.round(job.ratio_used)}×` : ""} in ${seconds(job)}.`);
  $("after").src = result.url;
  $("before").hidden = raw;
  $("before-placeholder").hidden = !raw;
  if (!raw) $("before").src = state.previewUrl;
  $("download").href = result.url;
  $("result-facts").textContent = `JPEG, ${result.width}×${result.height}, ${formatBytes(result.bytes)}`;
  $("result").hidden = false;
  setSplit(Number($("split").value));
}

function seconds(job) {
  const start = Date.parse(job.created_at);
  const end = Date.parse(job.updated_at);
  return Number.isFinite(end - start) ? `${Math.max(1, Math.round((end - start) / 1000))} s` : "a moment";
}

function setSplit(percent) {
  $("after-clip").style.clipPath = `inset(0 0 0 ${percent}%)`;
}

// ---- messages ------------------------------------------------------------------

function setStage(text) {
  $("stage").textContent = text;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// ---- wiring ----------------------------------------------------------------------

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", () => choose($("file").files[0]));
  for (const name of ["dragenter", "dragover"])
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const name of ["dragleave", "drop"])
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
  $("form").addEventListener("submit", submit);
  $("split").addEventListener("input", () => setSplit(Number($("split").value)));
  $("input").addEventListener("error", previewFailed);
}

wire();
warm();
