// Caravan explorer: a single-page app over the node's HTTP API, for customs officers, banks and
// rail operators. Plain ES module, no framework and no build step; every asset comes from the
// node that serves this page. Data goes into the DOM only through textContent and attributes
// (the el() helper below), never as HTML. The participant key used to sign reads stays in this
// module's memory: it is never sent to the node and never stored.

import { t, has, setLanguage, language, htmlLang, detectLanguage, LANGUAGES } from "./i18n.js";

// ---- constants -------------------------------------------------------------------------------

const LANG_STORAGE_KEY = "caravan.explorer.language";
const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_VERIFY_FILE_BYTES = 32 * 1024 * 1024;
const OVERVIEW_REFRESH_MS = 1000;
const MAX_LOOKUPS_PER_PAGE = 30;

// The document kinds each cross-validation rule compares (domain reference, protocol section 11).
const RULE_KINDS = {
  transport_reference: ["declaration", "transport"],
  parties: ["invoice", "declaration", "transport"],
  hs_codes: ["invoice", "declaration", "transport"],
  packages: ["declaration", "transport", "packing_list"],
  weights: ["declaration", "transport", "packing_list"],
  quantities: ["invoice", "declaration"],
  value: ["invoice", "declaration"],
  containers: ["declaration", "transport", "packing_list", "interchange_receipt"],
  places: ["declaration", "transport"],
  dates: ["invoice", "declaration", "transport"],
  contract_and_origin: ["invoice", "declaration", "certificate_of_origin"],
};
const KIND_ORDER = [
  "invoice",
  "declaration",
  "transport",
  "packing_list",
  "certificate_of_origin",
  "interchange_receipt",
];

// Transaction kinds (body types) that change what an open page shows.
const RELEVANT_KINDS = {
  consignment: [
    "anchor_document",
    "amend_document",
    "withdraw_document",
    "record_transport_event",
    "close_consignment",
    "attest_report",
    "register_lien",
    "release_lien",
  ],
  sco: [
    "register_enterprise",
    "attest_credit",
    "revoke_credit",
    "open_consignment",
    "close_consignment",
    "anchor_document",
    "amend_document",
    "withdraw_document",
    "attest_report",
    "register_lien",
    "release_lien",
  ],
  document: ["amend_document", "withdraw_document", "register_lien", "release_lien"],
};

// ---- state -----------------------------------------------------------------------------------

const state = {
  // {id, key, name, roles, sco_code}; key is the key file's text, in memory only.
  session: null,
  // Node clock minus this browser's clock, when they differ by more than 30 s.
  clockOffset: 0,
  clockKnown: false,
  overview: null,
  lastOverviewAt: 0,
  blockTimes: new Map(),
  names: new Map(),
  agencyIds: new Set(),
  docConsignment: new Map(),
  view: null,
  token: 0,
  returnTo: null,
  live: "connecting",
  lookups: 0,
};

const verifyState = {
  genesis: null, // {bytes, source: "node" | "file", name, fingerprint: {kind, value} | null, error}
  file: null, // {name, bytes}
  result: null,
  busy: false,
  verifierError: null,
};

const signinState = { id: "", keyText: null, keyName: "", error: null, busy: false };

// ---- DOM helpers -----------------------------------------------------------------------------

/** Creates an element. Attributes are set with setAttribute, children appended as nodes or text. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "test") node.setAttribute("data-test", value);
      else if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

function link(href, attrs, ...children) {
  return el("a", { ...attrs, href }, ...children);
}

function enc(segment) {
  return encodeURIComponent(String(segment));
}

const ROUTE = {
  home: () => "#/",
  search: (q) => `#/search/${enc(q)}`,
  sco: (code) => `#/sco/${enc(code)}`,
  consignment: (ucr) => `#/consignment/${enc(ucr)}`,
  document: (id) => `#/document/${enc(id)}`,
  tx: (id) => `#/tx/${enc(id)}`,
  block: (height) => `#/block/${enc(height)}`,
  verify: () => "#/verify",
  signin: () => "#/signin",
};

function shortHex(hex, head = 10, tail = 4) {
  const s = String(hex ?? "");
  return s.length > head + tail + 1 ? `${s.slice(0, head)}…${s.slice(-tail)}` : s;
}

/** An id shown short, with the full value in its title and data attribute. */
function hexId(hex, attrs = {}) {
  return el("code", { class: "hex", title: hex, "data-full": hex, ...attrs }, shortHex(hex));
}

function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  const date = new Date(Number(ms));
  try {
    return new Intl.DateTimeFormat(htmlLang(), {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    }).format(date);
  } catch {
    return date.toISOString();
  }
}

function fmtClock(ms) {
  try {
    return new Intl.DateTimeFormat(htmlLang(), { timeStyle: "medium" }).format(new Date(Number(ms)));
  } catch {
    return new Date(Number(ms)).toISOString().slice(11, 19);
  }
}

function fmtRate(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "—";
  return new Intl.NumberFormat(htmlLang(), { maximumFractionDigits: n < 10 ? 2 : 1 }).format(n);
}

// ISO 4217 currencies whose minor unit is not 1/100 (the sdk's table).
const MINOR_DIGITS = {
  BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0, KRW: 0,
  KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0, VUV: 0, XAF: 0,
  XOF: 0, XPF: 0,
};

/** An amount as the sdk writes it: `1234.50 CNY` (all the currency's decimals, no grouping). */
function fmtAmount(amount) {
  if (!amount || typeof amount !== "object") return "—";
  const digits = MINOR_DIGITS[amount.currency] ?? 2;
  let minor;
  try {
    minor = BigInt(amount.minor);
  } catch {
    return `${amount.minor} ${amount.currency}`;
  }
  const negative = minor < 0n;
  const magnitude = negative ? -minor : minor;
  let text;
  if (digits === 0) text = magnitude.toString();
  else {
    const unit = 10n ** BigInt(digits);
    text = `${magnitude / unit}.${(magnitude % unit).toString().padStart(digits, "0")}`;
  }
  return `${negative ? "-" : ""}${text} ${amount.currency}`;
}

function countryName(code) {
  try {
    const name = new Intl.DisplayNames([htmlLang()], { type: "region" }).of(code);
    return name && name !== code ? name : null;
  } catch {
    return null;
  }
}

function country(code) {
  if (!code) return "—";
  const name = countryName(code);
  return el("span", { class: "country", "data-country": code }, el("abbr", { title: name || code }, code), name ? ` ${name}` : null);
}

function place(locode) {
  const key = `place.${locode}`;
  return el(
    "span",
    { class: "place", "data-locode": locode },
    has(key) ? el("span", { class: "place-name" }, t(key)) : null,
    el("code", { class: "locode" }, locode),
  );
}

/** A translated label for an enumerated value, falling back to the value itself. */
function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return has(key) ? t(key) : String(value);
}

function badge(status, text, attrs = {}) {
  const icon = { ok: "✓", fail: "✗", pending: "…", none: "–", warn: "!" }[status] || "";
  return el(
    "span",
    { class: `badge badge-${status}`, ...attrs },
    icon ? el("span", { class: "badge-icon", "aria-hidden": "true" }, icon) : null,
    text,
  );
}

function dl(rows, attrs = {}) {
  const list = el("dl", { class: "facts", ...attrs });
  for (const row of rows) {
    if (!row) continue;
    const [term, value, testId] = row;
    list.append(
      el("div", { class: "fact", test: testId },
        el("dt", null, term),
        el("dd", null, value === null || value === undefined || value === "" ? "—" : value)),
    );
  }
  return list;
}

function section(title, attrs, ...children) {
  const id = attrs && attrs.id;
  return el(
    "section",
    { class: "panel", ...attrs, "aria-labelledby": id ? `${id}-title` : null },
    el("h2", { id: id ? `${id}-title` : null }, title),
    ...children,
  );
}

function pageShell(title, subtitle, ...children) {
  return el(
    "div",
    { class: "page" },
    el("header", { class: "page-head" }, el("h1", { tabindex: "-1" }, title), subtitle ? el("p", { class: "subtitle" }, subtitle) : null),
    ...children,
  );
}

function notice(kind, attrs, ...children) {
  return el("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null, ...attrs }, ...children);
}

function errorBox(title, detail) {
  return notice("error", { test: "error" }, el("strong", null, title), detail ? el("p", null, detail) : null);
}

function table(headers, rows, attrs = {}) {
  const caption = attrs.caption;
  delete attrs.caption;
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attrs,
      caption ? el("caption", { class: "visually-hidden" }, caption) : null,
      el("thead", null, el("tr", null, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", null, rows),
    ),
  );
}

function emptyRow(colspan, text) {
  return el("tr", null, el("td", { colspan, class: "empty" }, text));
}

function announce(text) {
  const region = document.getElementById("notice");
  if (!region) return;
  region.textContent = text;
  region.hidden = false;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    region.textContent = "";
    region.hidden = true;
  }, 6000);
}

// ---- the node's API --------------------------------------------------------------------------

let verifierPromise = null;

/** The sdk compiled to WebAssembly, loaded on first use. */
function verifier() {
  if (!verifierPromise) {
    verifierPromise = import("./caravan.js")
      .then((module) => module.loadCaravan("/explorer/caravan.wasm"))
      .catch((error) => {
        verifierPromise = null;
        throw error;
      });
  }
  return verifierPromise;
}

/** The request target exactly as the browser will send it: what a signed read signs. */
function requestTarget(pathAndQuery) {
  const url = new URL(pathAndQuery, window.location.origin);
  return url.pathname + url.search;
}

function noteClock(response) {
  const date = Date.parse(response.headers.get("date") || "");
  if (!Number.isFinite(date)) return;
  state.clockKnown = true;
  const offset = date - Date.now();
  // The Date header has one-second resolution: only a real difference is corrected.
  state.clockOffset = Math.abs(offset) > 30_000 ? offset : 0;
}

/**
 * GET `pathAndQuery`. With `signed`, the request is a signed read when someone is signed in (or
 * as `as`). Resolves to {ok, status, data | bytes, contentType, error, detail}; never throws.
 */
async function request(pathAndQuery, { signed = false, as = null, bytes = false } = {}) {
  const target = requestTarget(pathAndQuery);
  const who = as || (signed ? state.session : null);
  const headers = {};
  if (who) {
    let signature;
    try {
      const caravan = await verifier();
      if (!state.clockKnown) {
        // A signed read must be within 5 minutes of the node's clock: learn it from any answer.
        try {
          noteClock(await fetch("/health", { cache: "no-store" }));
        } catch {
          /* the request below reports the network error */
        }
      }
      const time = Math.floor(Date.now() + state.clockOffset);
      signature = await caravan.signRead(who.key, "GET", target, time);
      if (!signature || signature.error) {
        return { ok: false, status: 0, error: "signing", detail: signature ? signature.error : "" };
      }
      headers["x-caravan-participant"] = who.id;
      headers["x-caravan-time"] = String(time);
      headers["x-caravan-signature"] = signature.signature;
    } catch (error) {
      return { ok: false, status: 0, error: "verifier", detail: String(error && error.message ? error.message : error) };
    }
  }
  let response;
  try {
    response = await fetch(target, { headers, cache: "no-store", credentials: "same-origin" });
  } catch (error) {
    return { ok: false, status: 0, error: "network", detail: String(error && error.message ? error.message : error) };
  }
  noteClock(response);
  const contentType = response.headers.get("content-type") || "";
  if (response.ok) {
    try {
      if (bytes) {
        return { ok: true, status: response.status, bytes: new Uint8Array(await response.arrayBuffer()), contentType };
      }
      return { ok: true, status: response.status, data: await response.json(), contentType };
    } catch (error) {
      return { ok: false, status: response.status, error: "bad_response", detail: String(error) };
    }
  }
  let error = `http_${response.status}`;
  let detail = "";
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      error = body.error || error;
      detail = body.detail || "";
    } catch {
      detail = text.slice(0, 300);
    }
  } catch {
    /* no body */
  }
  return { ok: false, status: response.status, error, detail, signed: Boolean(who) };
}

function getJson(path, options) {
  return request(path, options);
}

function getBytes(path, options) {
  return request(path, { ...options, bytes: true });
}

/** A failed request in words. */
function describe(result) {
  if (!result) return "";
  if (result.error === "network") return t("error.network", { detail: result.detail });
  if (result.error === "verifier") return t("error.verifier", { detail: result.detail });
  if (result.error === "signing") return t("error.signing", { detail: result.detail });
  if (result.status === 403) return result.signed ? t("error.forbidden_signed") : t("error.forbidden_unsigned");
  const head = `HTTP ${result.status} ${result.error}`;
  return result.detail ? `${head}: ${result.detail}` : head;
}

/** The message a page shows where the node answered 403. */
function protectedNotice(what, result) {
  const signed = Boolean(state.session);
  return notice(
    "protected",
    { test: "protected-notice", "data-reason": signed ? "not_permitted" : "not_signed_in" },
    el("p", { class: "protected-what" }, t(`protected.${what}`)),
    el(
      "p",
      { class: "protected-why" },
      signed ? t("protected.why_signed", { id: state.session.id }) : t("protected.why_unsigned"),
    ),
    signed && result && result.detail ? el("p", { class: "detail" }, result.detail) : null,
    signed ? null : el("p", null, link(ROUTE.signin(), { class: "button", test: "protected-signin" }, t("session.signin"))),
  );
}

/** Participant id with its name once known. */
function party(id) {
  const node = el("span", { class: "party", "data-participant": id }, el("span", { class: "party-id" }, id));
  const name = state.names.get(id);
  if (name) node.append(el("span", { class: "party-name" }, name));
  else wantName(id);
  return node;
}

const nameRequests = new Set();

function wantName(id) {
  if (!state.session || nameRequests.has(id) || state.lookups >= MAX_LOOKUPS_PER_PAGE) return;
  nameRequests.add(id);
  state.lookups += 1;
  getJson(`/v1/participants/${enc(id)}`, { signed: true }).then((r) => {
    if (!r.ok || !r.data || !r.data.name) return;
    state.names.set(id, r.data.name);
    for (const node of document.querySelectorAll(".party")) {
      if (node.dataset.participant === id && !node.querySelector(".party-name")) {
        node.append(el("span", { class: "party-name" }, r.data.name));
      }
    }
  });
}

/** "height N", with the block's time once known. */
function atHeight(height) {
  const node = el(
    "span",
    { class: "at-height", "data-height": height },
    link(ROUTE.block(height), null, t("common.height_n", { height })),
  );
  const time = state.blockTimes.get(Number(height));
  if (time !== undefined) node.append(el("span", { class: "time" }, fmtTime(time)));
  else wantBlockTime(Number(height));
  return node;
}

const timeRequests = new Set();

function wantBlockTime(height) {
  if (!state.session || !(height > 0) || timeRequests.has(height) || state.lookups >= MAX_LOOKUPS_PER_PAGE) return;
  timeRequests.add(height);
  state.lookups += 1;
  getJson(`/v1/blocks/${height}`, { signed: true }).then((r) => {
    const time = r.ok && r.data && r.data.block && r.data.block.header ? r.data.block.header.time_ms : undefined;
    if (time === undefined) return;
    state.blockTimes.set(height, time);
    for (const node of document.querySelectorAll(".at-height")) {
      if (Number(node.dataset.height) === height && !node.querySelector(".time")) {
        node.append(el("span", { class: "time" }, fmtTime(time)));
      }
    }
  });
}

/** Fetches a file and saves it; shows the outcome next to the button. */
function downloadButton({ path, filename, test, text, verifyTest }) {
  const status = el("span", { class: "download-status", role: "status" });
  const fetchBytes = async () => {
    const r = await getBytes(path, { signed: true });
    if (!r.ok) {
      status.textContent = r.status === 404 && r.error === "not_found" && /route/.test(r.detail)
        ? t("download.unavailable")
        : describe(r);
      status.className = "download-status failed";
      return null;
    }
    status.textContent = "";
    status.className = "download-status";
    return r;
  };
  const save = el("button", {
    type: "button",
    class: "button small",
    test,
    onclick: async () => {
      save.disabled = true;
      status.textContent = t("common.loading");
      const r = await fetchBytes();
      save.disabled = false;
      if (!r) return;
      saveBytes(r.bytes, r.contentType || "application/octet-stream", filename);
      status.textContent = t("download.saved", { name: filename });
    },
  }, text);
  const check = el("button", {
    type: "button",
    class: "button small secondary",
    test: verifyTest,
    "aria-label": `${t("download.verify_here")}: ${text}`,
    onclick: async () => {
      check.disabled = true;
      status.textContent = t("common.loading");
      const r = await fetchBytes();
      check.disabled = false;
      if (!r) return;
      verifyState.file = { name: filename, bytes: r.bytes };
      verifyState.result = null;
      window.location.hash = ROUTE.verify();
    },
  }, t("download.verify_here"));
  return el("span", { class: "download" }, save, verifyTest ? check : null, status);
}

function saveBytes(bytes, type, filename) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const anchor = el("a", { href: url, download: filename, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

// ---- routing ---------------------------------------------------------------------------------

function parseRoute(hash) {
  const path = (hash || "").replace(/^#/, "");
  if (path === "" || path === "/") return { name: "overview", params: {} };
  if (!path.startsWith("/")) return null;
  const parts = path.slice(1).split("/").map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  const [head, ...rest] = parts;
  const arg = rest.join("/");
  switch (head) {
    case "search":
      return { name: "search", params: { q: arg } };
    case "sco":
      return arg ? { name: "sco", params: { code: arg.trim().toUpperCase() } } : null;
    case "consignment":
      return arg ? { name: "consignment", params: { ucr: arg.trim() } } : null;
    case "document":
      return arg ? { name: "document", params: { id: arg.trim().toLowerCase() } } : null;
    case "tx":
      return arg ? { name: "tx", params: { id: arg.trim().toLowerCase() } } : null;
    case "block":
      return arg ? { name: "block", params: { height: arg.trim() } } : null;
    case "verify":
      return { name: "verify", params: {} };
    case "signin":
      return { name: "signin", params: {} };
    case "":
      return { name: "overview", params: {} };
    default:
      return { name: "notfound", params: { path } };
  }
}

async function route() {
  const parsed = parseRoute(window.location.hash) || { name: "notfound", params: { path: window.location.hash } };
  const page = PAGES[parsed.name];
  if (parsed.name === "signin" && state.view && state.view.name !== "signin") state.returnTo = state.view.hash;
  const token = ++state.token;
  state.lookups = 0;
  state.view = { name: parsed.name, params: parsed.params, hash: window.location.hash || "#/", data: undefined, token };
  const main = document.getElementById("main");
  const input = document.getElementById("search-input");
  if (input && parsed.name !== "search" && document.activeElement !== input) input.value = "";
  main.dataset.page = parsed.name;
  main.dataset.state = "loading";
  main.setAttribute("aria-busy", "true");
  main.replaceChildren(el("p", { class: "loading", test: "loading" }, t("common.loading")));
  updateNav();
  let data;
  try {
    data = await page.load(parsed.params);
  } catch (error) {
    console.error(error);
    data = { failure: String(error && error.message ? error.message : error) };
  }
  if (token !== state.token) return;
  if (data && data.redirect) {
    window.location.replace(data.redirect);
    return;
  }
  state.view.data = data;
  paint({ focus: true });
}

/** Renders the current view from its data: after loading, on a language switch, after a refresh. */
function paint({ focus = false, preserve = false } = {}) {
  const view = state.view;
  if (!view) return;
  const page = PAGES[view.name];
  const main = document.getElementById("main");
  const open = preserve ? [...main.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key) : [];
  const active = preserve && main.contains(document.activeElement) ? document.activeElement.id : null;
  const scroll = window.scrollY;
  let content;
  if (view.data && view.data.failure) {
    content = pageShell(t("error.title"), null, errorBox(t("error.render"), view.data.failure));
  } else {
    try {
      content = page.render(view.data, view.params);
    } catch (error) {
      console.error(error);
      content = pageShell(t("error.title"), null, errorBox(t("error.render"), String(error && error.message ? error.message : error)));
    }
  }
  main.replaceChildren(content);
  document.title = `${page.title(view.params, view.data)} · ${t("app.name")}`;
  main.dataset.page = view.name;
  main.dataset.state = view.data && view.data.failure ? "error" : "ready";
  main.removeAttribute("aria-busy");
  if (preserve) {
    for (const details of main.querySelectorAll("details[data-key]")) {
      if (open.includes(details.dataset.key)) details.open = true;
    }
    if (active) document.getElementById(active)?.focus({ preventScroll: true });
    window.scrollTo(0, scroll);
  } else if (focus) {
    window.scrollTo(0, 0);
    const heading = main.querySelector("h1");
    if (heading && document.activeElement !== document.getElementById("search-input")) heading.focus({ preventScroll: true });
  }
  updateNav();
}

let refreshing = false;
let refreshAgain = false;

/** Loads the current view's data again and repaints it in place. */
async function refresh(reason) {
  const view = state.view;
  if (!view || !PAGES[view.name].refreshable) return;
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    const data = await PAGES[view.name].load(view.params, { quiet: true });
    if (state.view !== view || (data && data.redirect)) return;
    view.data = data;
    paint({ preserve: true });
    if (reason) announce(reason);
  } catch (error) {
    console.error(error);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      setTimeout(() => refresh(), 250);
    }
  }
}

// ---- overview --------------------------------------------------------------------------------

async function loadOverview() {
  const r = await getJson("/v1/overview");
  if (r.ok) rememberOverview(r.data);
  return { r };
}

function rememberOverview(overview) {
  state.overview = overview;
  state.lastOverviewAt = Date.now();
  for (const block of overview.latest_blocks || []) state.blockTimes.set(Number(block.height), block.time_ms);
  for (const agency of overview.agencies || []) {
    state.agencyIds.add(agency.id);
    if (agency.name) state.names.set(agency.id, agency.name);
  }
  updateFooter();
}

function renderOverview({ r }) {
  if (!r.ok) return pageShell(t("overview.title"), null, errorBox(t("overview.error"), describe(r)));
  const o = r.data;
  const agencies = o.agencies || [];
  const validators = agencies.filter((a) => a.validator);
  const signed = validators.filter((a) => a.signed_latest);
  const blocks = o.latest_blocks || [];
  const stats = el(
    "div",
    { class: "stats" },
    stat(t("overview.height"), String(o.height), "overview-height"),
    stat(t("overview.tps"), fmtRate(o.tx_per_s), "overview-tps"),
    stat(t("overview.validators_signed"), `${signed.length} / ${validators.length}`, "overview-validators"),
    stat(t("overview.node"), o.node ? o.node.agency : "—", "overview-node", o.node ? label("node_role", o.node.role) : null),
  );
  const agencyRows = agencies.map((a) =>
    el(
      "tr",
      { test: "agency-row", "data-agency": a.id, "data-validator": String(Boolean(a.validator)), "data-signed": String(Boolean(a.signed_latest)) },
      el("th", { scope: "row" }, el("code", null, a.id)),
      el("td", null, a.name),
      el("td", null, country(a.country)),
      el("td", null, a.validator ? badge("ok", t("overview.is_validator")) : badge("none", t("overview.not_validator"))),
      el(
        "td",
        { test: "agency-signed" },
        !a.validator
          ? badge("none", t("overview.not_applicable"))
          : a.signed_latest
            ? badge("ok", t("overview.signed_latest"))
            : // A certificate needs only a quorum: a healthy validator may be missing from it.
              badge("none", t("overview.missed_latest")),
      ),
    ),
  );
  const blockRows = blocks.map((b) =>
    el(
      "tr",
      { test: "block-row", "data-height": b.height },
      el("th", { scope: "row" }, link(ROUTE.block(b.height), null, String(b.height))),
      el("td", null, el("time", { datetime: new Date(Number(b.time_ms)).toISOString() }, fmtTime(b.time_ms))),
      el("td", { class: "num" }, String(b.txs)),
      el("td", null, hexId(b.id)),
    ),
  );
  return pageShell(
    t("overview.title"),
    t("overview.subtitle"),
    stats,
    dl([[t("overview.chain"), el("code", { class: "hex wrap", test: "overview-chain" }, o.chain_id)]], { class: "facts inline" }),
    state.session ? null : notice("info", { test: "public-note" }, t("overview.public_note")),
    section(
      t("overview.agencies"),
      { id: "agencies", test: "agencies" },
      table(
        [t("overview.agency"), t("common.name"), t("common.country"), t("overview.validator"), t("overview.latest_block")],
        agencyRows.length ? agencyRows : [emptyRow(5, t("common.none"))],
        { caption: t("overview.agencies") },
      ),
    ),
    section(
      t("overview.latest_blocks"),
      { id: "latest-blocks", test: "latest-blocks" },
      table(
        [t("common.height"), t("common.time"), t("overview.transactions"), t("overview.block_id")],
        blockRows.length ? blockRows : [emptyRow(4, t("overview.no_blocks"))],
        { caption: t("overview.latest_blocks") },
      ),
    ),
  );
}

function stat(title, value, test, note) {
  return el(
    "div",
    { class: "stat" },
    el("div", { class: "stat-label" }, title),
    el("div", { class: "stat-value", test, id: test }, value),
    note ? el("div", { class: "stat-note" }, note) : null,
  );
}

// ---- search ----------------------------------------------------------------------------------

function routeOfMatch(match) {
  switch (match.kind) {
    case "sco":
      return ROUTE.sco(match.id);
    case "consignment":
      return ROUTE.consignment(match.id);
    case "document":
      return ROUTE.document(match.id);
    case "tx":
      return ROUTE.tx(match.id);
    case "block":
      return ROUTE.block(match.id);
    default:
      return null;
  }
}

async function loadSearch({ q }) {
  const query = (q || "").trim();
  const input = document.getElementById("search-input");
  if (input && document.activeElement !== input) input.value = query;
  if (!query) return { query, r: null };
  const r = await getJson(`/v1/search?q=${enc(query)}`, { signed: true });
  if (r.ok) {
    const matches = r.data.matches || [];
    for (const m of matches) if (m.kind === "document" && m.consignment) state.docConsignment.set(m.id, m.consignment);
    if (matches.length === 1 && routeOfMatch(matches[0])) return { redirect: routeOfMatch(matches[0]) };
  }
  return { query, r };
}

/** A match in words: the node writes document labels as "kind number: field value". */
function matchLabel(m) {
  if (m.kind !== "document") return m.kind === "tx" ? shortHex(m.id) : m.id;
  const found = /^([a-z_]+) (.*): (number|container|train) (.*)$/.exec(m.label || "");
  if (!found) return m.label || m.id;
  const [, kind, number, field, value] = found;
  const what = field === "train" ? t("search.field.train") : t(`field.${field}`);
  return `${label("doc_kind", kind)} ${number} · ${what}: ${value}`;
}

function renderSearch({ query, r }) {
  const title = query ? t("search.results_for", { query }) : t("search.title");
  if (!r) return pageShell(title, null, searchHelp());
  if (!r.ok) return pageShell(title, null, errorBox(t("search.error"), describe(r)), searchHelp());
  const data = r.data;
  const matches = data.matches || [];
  const items = matches.map((m) => {
    const href = routeOfMatch(m);
    return el(
      "li",
      { test: "search-result", "data-kind": m.kind, "data-id": m.id, class: "result" },
      el("span", { class: "result-kind" }, label("search.kind", m.kind)),
      href ? link(href, { class: "result-label" }, matchLabel(m)) : el("span", null, matchLabel(m)),
      m.kind === "document" || m.kind === "tx" ? el("code", { class: "hex small" }, m.kind === "tx" ? m.id : shortHex(m.id)) : null,
      m.consignment ? el("span", { class: "result-context" }, t("search.in_consignment"), " ", link(ROUTE.consignment(m.consignment), null, m.consignment)) : null,
    );
  });
  return pageShell(
    title,
    null,
    // The node's own notes (in English) restate what the hint and the empty result say below;
    // any other note is shown as the node wrote it.
    data.note && data.signed_in && matches.length ? notice("info", { test: "search-note" }, data.note) : null,
    matches.length
      ? el("ul", { class: "results", test: "search-results" }, items)
      : notice("info", { test: "search-empty" }, t("search.nothing")),
    data.signed_in ? null : notice("protected", { test: "search-signin-hint" }, t("search.signin_hint"), " ", link(ROUTE.signin(), null, t("session.signin"))),
    searchHelp(),
  );
}

function searchHelp() {
  return section(
    t("search.help_title"),
    { id: "search-help" },
    el("ul", { class: "plain" }, ["sco", "ucr", "document", "container", "train", "tx"].map((k) => el("li", null, t(`search.help.${k}`)))),
  );
}

// ---- SCO code --------------------------------------------------------------------------------

async function loadSco({ code }) {
  const r = await getJson(`/v1/sco/${enc(code)}`, { signed: true });
  if (r.ok && r.data && r.data.enterprise) state.names.set(r.data.enterprise.participant, r.data.enterprise.name);
  return { code, r };
}

function attestationState(a, asOf) {
  if (a.revoked) return "revoked";
  if (asOf && a.valid_from > asOf) return "future";
  if (asOf && a.valid_until && asOf > a.valid_until) return "expired";
  return "live";
}

function gradeText(grade) {
  if (!grade) return "—";
  return `${label("grade." + grade.regulation, grade.grade)} — ${label("regulation", grade.regulation)}`;
}

function recordText(record) {
  switch (record.kind) {
    case "customs_grade":
      return gradeText(record.grade);
    case "aeo_recognition":
      return t("record.recognised_by", { countries: (record.countries || []).join(", ") });
    case "partner_grade":
      return `${record.country} · ${record.scheme}: ${record.grade}`;
    case "violation":
      return record.penalty ? `${record.description} — ${t("record.penalty")} ${fmtAmount(record.penalty)}` : record.description;
    case "smuggling_finding":
      return record.description;
    case "unpaid_tax":
    case "payment_default":
      return fmtAmount(record.amount);
    case "trade_volume":
      return `${record.from} – ${record.to}: ${fmtAmount(record.amount)}`;
    default:
      return JSON.stringify(record);
  }
}

function renderSco({ code, r }) {
  if (!r.ok) {
    const body = r.status === 403
      ? protectedNotice("sco", r)
      : r.status === 404
        ? notice("info", { test: "not-found" }, t("sco.not_registered", { code }))
        : r.status === 400
          ? errorBox(t("sco.bad_code", { code }), r.detail)
          : errorBox(t("sco.error"), describe(r));
    return pageShell(code, t("sco.subtitle"), el("p", { class: "mono", test: "sco-code" }, code), body);
  }
  const view = r.data;
  const e = view.enterprise;
  const s = view.summary;
  const ids = e.legal_ids || {};
  const enterprise = section(
    t("sco.enterprise"),
    { id: "sco-enterprise", test: "sco-enterprise" },
    dl([
      [t("common.name"), e.name, "sco-name"],
      [t("sco.code"), el("code", { test: "sco-code" }, e.sco_code)],
      [t("common.country"), country(e.country)],
      [t("sco.participant"), party(e.participant)],
      ids.uscc ? [t("sco.uscc"), el("code", null, ids.uscc)] : null,
      ids.lei ? [t("sco.lei"), el("code", null, ids.lei)] : null,
      ids.national ? [t("sco.national_id"), el("span", null, el("code", null, ids.national.id), " (", ids.national.country, ")")] : null,
      [t("sco.registered_by"), party(e.registered_by)],
      [t("sco.registered_at"), atHeight(e.registered_at)],
      [t("sco.public_key"), el("code", { class: "hex wrap" }, e.public_key)],
    ]),
    el(
      "div",
      { class: "actions", test: "sco-downloads" },
      downloadButton({
        path: `/v1/sco/${enc(e.sco_code)}/proof`,
        filename: `${e.sco_code}.enterprise-proof.json`,
        test: "download-enterprise-proof",
        verifyTest: "verify-enterprise-proof",
        text: t("sco.download_enterprise_proof"),
      }),
    ),
  );
  const standing = s.standing || "good";
  const standingStatus = { good: "ok", watch: "warn", adverse: "fail" }[standing] || "none";
  const history = s.history || {};
  const summary = section(
    t("sco.summary"),
    { id: "credit-summary", test: "credit-summary" },
    el(
      "p",
      { class: "standing" },
      badge(standingStatus, label("standing", standing), { test: "credit-standing", "data-standing": standing }),
      " ",
      el("span", { class: "muted" }, t("sco.as_of", { date: s.as_of, height: view.height })),
    ),
    el("p", { class: "muted small" }, t(`standing_help.${standing}`)),
    dl([
      [
        t("sco.customs_grades"),
        (s.customs_grades || []).length
          ? el("ul", { class: "plain" }, s.customs_grades.map((g) => el("li", { test: "customs-grade", "data-regulation": g.grade.regulation, "data-grade": g.grade.grade }, gradeText(g.grade), " · ", party(g.issuer))))
          : t("sco.no_grade"),
      ],
      [t("sco.aeo"), s.aeo ? badge("ok", t("common.yes")) : badge("none", t("common.no")), "credit-aeo"],
      [t("sco.aeo_recognised_by"), (s.aeo_recognised_by || []).length ? el("span", null, s.aeo_recognised_by.map((c, i) => [i ? ", " : "", country(c)])) : "—"],
      [t("sco.partner_grades"), (s.partner_grades || []).length ? el("ul", { class: "plain" }, s.partner_grades.map(([c, scheme, grade]) => el("li", null, `${c} · ${scheme}: ${grade}`))) : "—"],
      [t("sco.violations"), String(s.violations ?? 0)],
      [t("sco.unpaid_tax"), s.unpaid_tax ? badge("fail", t("common.yes")) : badge("ok", t("common.no"))],
      [t("sco.payment_defaults"), String(s.payment_defaults ?? 0)],
      [t("sco.trade_volumes"), (s.trade_volumes || []).length ? s.trade_volumes.map(fmtAmount).join("; ") : "—"],
    ]),
  );
  const asOf = s.as_of;
  const attestationRows = (view.attestations || []).map((a) => {
    const st = attestationState(a, asOf);
    const statusBadge = {
      live: badge("ok", t("attestation.live")),
      revoked: badge("fail", t("attestation.revoked")),
      expired: badge("none", t("attestation.expired")),
      future: badge("pending", t("attestation.future")),
    }[st];
    return el(
      "tr",
      { test: "attestation-row", "data-attestation": a.id, "data-state": st, "data-kind": a.record.kind },
      el("th", { scope: "row" }, el("div", { class: "record-kind" }, label("record", a.record.kind)), el("div", null, recordText(a.record))),
      el("td", null, party(a.issuer)),
      el("td", null, `${a.valid_from} – ${a.valid_until || t("attestation.open_ended")}`),
      el("td", null, atHeight(a.attested_at), el("div", null, link(ROUTE.tx(a.id), { class: "small" }, hexId(a.id)))),
      el(
        "td",
        null,
        statusBadge,
        a.revoked
          ? el("div", { class: "small revocation" }, t("attestation.revoked_because", { reason: a.revoked.reason }), " · ", atHeight(a.revoked.at), " · ", link(ROUTE.tx(a.revoked.tx), null, hexId(a.revoked.tx)))
          : null,
      ),
      el(
        "td",
        { class: "downloads" },
        downloadButton({
          path: `/v1/sco/${enc(e.sco_code)}/proof?attestation=${enc(a.id)}`,
          filename: `${e.sco_code}.attestation-${a.id.slice(0, 12)}.state-proof.json`,
          test: "download-state-proof",
          verifyTest: "verify-state-proof",
          text: t("sco.download_state_proof"),
        }),
        downloadButton({
          path: `/v1/sco/${enc(e.sco_code)}/credential?attestation=${enc(a.id)}`,
          filename: `${e.sco_code}.attestation-${a.id.slice(0, 12)}.credential.json`,
          test: "download-credential",
          verifyTest: "verify-credential",
          text: t("sco.download_credential"),
        }),
        downloadButton({
          path: `/v1/proof/tx/${enc(a.id)}`,
          filename: `attestation-${a.id.slice(0, 12)}.bundle.json`,
          test: "download-tx-proof",
          verifyTest: "verify-tx-proof",
          text: t("sco.download_tx_proof"),
        }),
      ),
    );
  });
  const attestations = section(
    t("sco.attestations"),
    { id: "attestations", test: "attestations" },
    el("p", { class: "muted small" }, t("sco.attestations_help")),
    table(
      [t("attestation.record"), t("attestation.issuer"), t("attestation.validity"), t("attestation.attested"), t("common.status"), t("common.downloads")],
      attestationRows.length ? attestationRows : [emptyRow(6, t("sco.no_attestations"))],
      { caption: t("sco.attestations"), class: "attestations" },
    ),
  );
  const consignmentList = Array.isArray(view.consignments) ? view.consignments : null;
  const consignments = section(
    t("sco.consignments"),
    { id: "sco-consignments", test: "sco-consignments" },
    dl([
      [t("sco.history_consignments"), String(history.consignments ?? 0), "history-consignments"],
      [t("sco.history_clean"), String(history.clean ?? 0), "history-clean"],
      [t("sco.history_discrepancies"), String(history.open_discrepancies ?? 0), "history-discrepancies"],
    ]),
    consignmentList
      ? el(
        "ul",
        { class: "plain links" },
        consignmentList.map((k) => {
          const ucr = typeof k === "string" ? k : k.ucr;
          return el("li", { test: "sco-consignment", "data-ucr": ucr }, link(ROUTE.consignment(ucr), null, ucr), typeof k === "object" && k.status ? [" · ", label("consignment_status", k.status)] : null);
        }),
      )
      : null,
  );
  const lienList = Array.isArray(view.liens) ? view.liens : null;
  const liens = section(
    t("sco.liens"),
    { id: "sco-liens", test: "sco-liens" },
    dl([[t("sco.active_liens"), String(history.active_liens ?? 0), "history-active-liens"]]),
    lienList ? lienTable(lienList.filter((l) => lienState(l, asOf) === "active"), asOf) : null,
  );
  return pageShell(e.name, t("sco.subtitle_with", { code: e.sco_code }), enterprise, summary, attestations, consignments, liens);
}

// ---- liens -----------------------------------------------------------------------------------

function lienState(lien, today) {
  if (lien.released_by) return "released";
  if (today && lien.until < today) return "expired";
  return "active";
}

function ledgerToday() {
  const latest = state.overview && state.overview.latest_blocks && state.overview.latest_blocks[0];
  const ms = latest ? latest.time_ms : Date.now();
  return new Date(Number(ms)).toISOString().slice(0, 10);
}

function lienTable(liens, today) {
  const rows = liens.map((l) => {
    const st = lienState(l, today);
    return el(
      "tr",
      { test: "lien-row", "data-lien": l.id, "data-state": st },
      el("th", { scope: "row" }, party(l.bank)),
      el("td", { class: "num" }, fmtAmount(l.amount)),
      el("td", null, l.until),
      el("td", null, atHeight(l.registered_at)),
      el("td", null, link(ROUTE.document(l.document), null, hexId(l.document))),
      el(
        "td",
        null,
        st === "active" ? badge("warn", t("lien.active")) : st === "released" ? badge("ok", t("lien.released")) : badge("none", t("lien.expired")),
        l.released_by ? el("div", { class: "small" }, link(ROUTE.tx(l.released_by), null, hexId(l.released_by))) : null,
      ),
    );
  });
  return table(
    [t("lien.bank"), t("lien.amount"), t("lien.until"), t("lien.registered"), t("lien.document"), t("common.status")],
    rows.length ? rows : [emptyRow(6, t("lien.none"))],
    { caption: t("sco.liens"), test: "liens-table" },
  );
}

// ---- consignment -----------------------------------------------------------------------------

async function loadConsignment({ ucr }) {
  const [r, v] = await Promise.all([
    getJson(`/v1/consignments/${enc(ucr)}`, { signed: true }),
    state.session ? getJson(`/v1/consignments/${enc(ucr)}/validation`, { signed: true }) : Promise.resolve(null),
  ]);
  if (r.ok) for (const d of r.data.documents || []) state.docConsignment.set(d.id, ucr);
  return { ucr, r, v };
}

/** The documents the rules count (protocol section 11.1), in the matrix's column order. */
function countedDocuments(documents) {
  const active = documents.filter((d) => !(d.status && d.status.status === "withdrawn"));
  const single = new Map();
  const perLeg = new Map();
  const receipts = [];
  for (const d of active) {
    if (d.kind === "transport") {
      if (d.leg !== null && d.leg !== undefined) perLeg.set(d.leg, d);
    } else if (d.kind === "interchange_receipt") receipts.push(d);
    else single.set(d.kind, d);
  }
  const transport = [...perLeg.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => d);
  const receiptNumbers = receipts.map((d) => d.number).sort();
  const columns = [];
  const push = (doc, labels) => columns.push({ kind: doc.kind, doc, labels });
  if (single.has("invoice")) push(single.get("invoice"), [`invoice ${single.get("invoice").number}`]);
  if (single.has("declaration")) push(single.get("declaration"), [`declaration ${single.get("declaration").number}`]);
  transport.forEach((d, i) => {
    const kind = d.fields && d.fields.kind ? d.fields.kind : "";
    push(d, [`leg ${i + 1} ${kind} ${d.number}`]);
  });
  if (single.has("packing_list")) push(single.get("packing_list"), [`packing_list ${single.get("packing_list").number}`]);
  if (single.has("certificate_of_origin")) push(single.get("certificate_of_origin"), [`certificate_of_origin ${single.get("certificate_of_origin").number}`]);
  for (const d of receipts) push(d, [`interchange_receipts ${receiptNumbers.join(", ")}`]);
  return columns;
}

function normLabel(text) {
  return String(text).trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * Whether a finding's document label names this column's document: the rules label documents
 * "invoice N", "declaration N", "leg K kind N", "packing_list N", "certificate_of_origin N",
 * sometimes followed by the field ("declaration N net"), and "transport documents" for all legs.
 */
function namesDocument(findingLabel, column) {
  const wanted = normLabel(findingLabel);
  if (column.labels.some((l) => wanted === normLabel(l) || wanted.startsWith(`${normLabel(l)} `))) return true;
  if (column.kind === "transport" && wanted === "transport documents") return true;
  if (column.kind === "interchange_receipt" && wanted.startsWith("interchange_receipts ")) {
    return wanted.slice("interchange_receipts ".length).split(", ").includes(normLabel(column.doc.number));
  }
  return false;
}

/** The status of one cell of the matrix: the rule's outcome as it concerns one document. */
function cellOf(result, column) {
  const rule = result.rule;
  const status = result.status || {};
  const kinds = RULE_KINDS[rule];
  const involved = kinds ? kinds.includes(column.kind) : true;
  if (column.missing) {
    if (status.status === "pending" && (status.missing || []).includes(column.kind)) return { status: "pending", missing: true };
    if (status.status === "fail" && involved) return { status: "pending", missing: true };
    return { status: "none" };
  }
  if (status.status === "fail") {
    const findings = (status.findings || []).filter((f) => (f.values || []).some(([doc]) => namesDocument(doc, column)));
    if (findings.length) return { status: "fail", findings };
    return involved ? { status: "pass" } : { status: "none" };
  }
  if (!involved) return { status: "none" };
  if (status.status === "pass") return { status: "pass" };
  if (status.status === "pending") return { status: "pending" };
  return { status: "none" };
}

function columnHeader(column) {
  if (column.missing) {
    return el("span", { class: "col-missing" }, el("span", { class: "col-kind" }, label("doc_kind", column.kind)), el("span", { class: "col-number" }, t("matrix.not_anchored")));
  }
  const d = column.doc;
  const sub = d.kind === "transport" && d.fields && d.fields.kind ? label("transport_kind", d.fields.kind) : label("doc_kind", d.kind);
  return link(
    ROUTE.document(d.id),
    { class: "col-doc" },
    el("span", { class: "col-kind" }, sub),
    d.leg !== null && d.leg !== undefined ? el("span", { class: "col-leg" }, t("consignment.leg_n", { n: d.leg + 1 })) : null,
    el("span", { class: "col-number" }, d.number || shortHex(d.id)),
  );
}

const STATUS_WORD = { pass: "matrix.pass", fail: "matrix.fail", pending: "matrix.pending", none: "matrix.none" };
const STATUS_BADGE = { pass: "ok", fail: "fail", pending: "pending", none: "none" };

function matrixCell(result, column, docKey) {
  const cell = cellOf(result, column);
  const td = el("td", {
    test: "matrix-cell",
    class: `cell cell-${cell.status}`,
    "data-rule": result.rule,
    "data-document": docKey,
    "data-status": cell.status,
  });
  if (cell.status === "none") {
    td.append(el("span", { class: "cell-none", "aria-hidden": "true" }, "—"), el("span", { class: "visually-hidden" }, t("matrix.none")));
  } else {
    td.append(badge(STATUS_BADGE[cell.status], cell.missing ? t("matrix.missing") : t(STATUS_WORD[cell.status])));
  }
  if (cell.status === "fail") {
    for (const [i, f] of cell.findings.entries()) {
      const own = (f.values || []).filter(([doc]) => namesDocument(doc, column)).map(([, value]) => value);
      const others = (f.values || []).filter(([doc]) => !namesDocument(doc, column));
      td.append(
        el(
          "div",
          { class: "finding", test: "finding" },
          el("div", { class: "finding-field", title: f.field }, findingField(f.field)),
          el("div", { class: "finding-value", test: "finding-value" }, own.join("; ")),
          f.tolerance ? el("div", { class: "finding-tolerance", test: "finding-tolerance" }, t("matrix.tolerance_value", { value: f.tolerance })) : null,
          el(
            "details",
            { class: "finding-details", "data-key": `finding-${result.rule}-${docKey}-${i}` },
            el("summary", null, t("matrix.compared")),
            el("p", null, f.message),
            el("ul", { class: "plain compared" }, others.map(([doc, value]) => el("li", null, el("span", { class: "muted" }, doc), ": ", value))),
          ),
        ),
      );
    }
  }
  return td;
}

/** A finding's field in the page's language: `weight_gross`, or `container CSQU3054383` (the
 * field's name translated, what follows it kept). */
function findingField(name) {
  const [head, ...rest] = String(name || "").split(" ");
  const key = `field.${head}`;
  return [has(key) ? t(key) : head, ...rest].join(" ");
}

function ruleHeader(result, overrides) {
  const status = result.status || {};
  const rowOverrides = overrides.filter((o) => o.decision && o.decision.rule === result.rule);
  const word = { pass: "matrix.pass", fail: "matrix.fail", pending: "matrix.pending" }[status.status] || "matrix.none";
  const th = el(
    "th",
    { scope: "row", class: "rule" },
    el("div", { class: "rule-name" }, label("rule", result.rule)),
    badge(STATUS_BADGE[status.status] || "none", t(word), { test: "rule-status", "data-status": status.status }),
  );
  if (status.status === "pending" && (status.missing || []).length) {
    th.append(el("div", { class: "small muted" }, t("matrix.missing_kinds", { kinds: status.missing.map((k) => label("doc_kind", k)).join(", ") })));
  }
  if (status.status === "pass" && status.note) {
    th.append(el("details", { class: "note", "data-key": `note-${result.rule}` }, el("summary", null, t("matrix.how")), el("p", null, status.note)));
  }
  for (const o of rowOverrides) {
    th.append(el("div", { class: "override", test: "rule-override" }, badge("warn", t("matrix.overridden")), " ", party(o.agency), ": ", o.decision.reason));
  }
  return th;
}

function validationSection(ucr, documents, report, reportHash, attestations) {
  if (!report) {
    return section(t("validation.title"), { id: "validation", test: "validation" }, notice("info", { test: "no-report" }, t("validation.no_report")));
  }
  const current = (attestations || []).filter((a) => !reportHash || a.report_hash === reportHash);
  const overrides = current.filter((a) => a.decision && a.decision.decision === "override");
  const columns = countedDocuments(documents);
  const present = new Set(columns.map((c) => c.kind));
  const missing = new Set();
  for (const r of report.results || []) {
    if (r.status && r.status.status === "pending") for (const k of r.status.missing || []) if (!present.has(k)) missing.add(k);
  }
  for (const k of KIND_ORDER) if (missing.has(k)) columns.push({ kind: k, missing: true, labels: [] });
  const keyOf = (c) => (c.missing ? `missing:${c.kind}` : c.doc.id);
  const head = el(
    "tr",
    null,
    el("th", { scope: "col", class: "corner" }, t("matrix.rule_document")),
    columns.map((c) => el("th", { scope: "col", test: "matrix-column", "data-document": keyOf(c), "data-kind": c.kind }, columnHeader(c))),
  );
  const rows = (report.results || []).map((result) =>
    el(
      "tr",
      {
        test: "rule-row",
        "data-rule": result.rule,
        "data-status": result.status ? result.status.status : "",
        "data-overridden": String(overrides.some((o) => o.decision.rule === result.rule)),
      },
      ruleHeader(result, overrides),
      columns.map((c) => matrixCell(result, c, keyOf(c))),
    ),
  );
  const failed = (report.results || []).filter((r) => r.status && r.status.status === "fail").length;
  const pending = (report.results || []).filter((r) => r.status && r.status.status === "pending").length;
  const clean = failed === 0 && pending === 0;
  const verdict = clean
    ? badge("ok", t("validation.clean"), { test: "report-verdict", "data-verdict": "clean" })
    : failed
      ? badge("fail", t("validation.failed", { count: failed }), { test: "report-verdict", "data-verdict": "fail" })
      : badge("pending", t("validation.pending", { count: pending }), { test: "report-verdict", "data-verdict": "pending" });
  const attestationItems = (attestations || []).map((a) => {
    const onCurrent = !reportHash || a.report_hash === reportHash;
    const decision = a.decision || {};
    return el(
      "li",
      { test: "report-attestation", "data-decision": decision.decision, "data-current": String(onCurrent), class: "attestation" },
      decision.decision === "override" ? badge("warn", t("validation.override")) : badge("ok", t("validation.confirm")),
      " ",
      party(a.agency),
      decision.decision === "override" ? [" · ", label("rule", decision.rule), ": ", decision.reason] : null,
      el(
        "div",
        { class: "small muted" },
        onCurrent ? t("validation.on_current") : t("validation.on_earlier"),
        " ",
        hexId(a.report_hash),
        " · ",
        link(ROUTE.tx(a.tx), null, t("common.transaction"), " ", hexId(a.tx)),
      ),
    );
  });
  return section(
    t("validation.title"),
    { id: "validation", test: "validation" },
    el(
      "p",
      { class: "report-meta" },
      verdict,
      " ",
      el("span", { class: "muted" }, t("validation.rule_set", { version: report.rule_set_version })),
      reportHash ? [" · ", el("span", { class: "muted" }, t("validation.report_hash")), " ", hexId(reportHash, { test: "report-hash" })] : null,
    ),
    el("p", { class: "muted small" }, t("validation.help")),
    el(
      "div",
      { class: "table-wrap matrix-wrap", tabindex: "0", role: "region", "aria-label": t("validation.matrix") },
      el(
        "table",
        { class: "matrix", test: "validation-matrix" },
        el("caption", { class: "visually-hidden" }, t("validation.matrix")),
        el("thead", null, head),
        el("tbody", null, rows),
      ),
    ),
    el(
      "p",
      { class: "legend small" },
      badge("ok", t("matrix.pass")), " ", t("matrix.legend_pass"), " ",
      badge("fail", t("matrix.fail")), " ", t("matrix.legend_fail"), " ",
      badge("pending", t("matrix.pending")), " ", t("matrix.legend_pending"), " ",
      el("span", { class: "cell-none", "aria-hidden": "true" }, "—"), " ", t("matrix.none"), ": ", t("matrix.legend_none"),
    ),
    el("h3", null, t("validation.attestations")),
    attestationItems.length
      ? el("ul", { class: "plain attestations", test: "report-attestations" }, attestationItems)
      : el("p", { class: "muted", test: "report-attestations" }, t("validation.no_attestations")),
  );
}

function documentRow(d) {
  const first = d.versions && d.versions[0];
  const latest = d.versions && d.versions[d.versions.length - 1];
  const withdrawn = d.status && d.status.status === "withdrawn";
  const kindText = d.kind === "transport" && d.fields && d.fields.kind ? label("transport_kind", d.fields.kind) : label("doc_kind", d.kind);
  return el(
    "tr",
    { test: "document-row", "data-document": d.id, "data-kind": d.kind, "data-status": withdrawn ? "withdrawn" : "active" },
    el("th", { scope: "row" }, link(ROUTE.document(d.id), null, kindText)),
    el("td", null, d.number ? el("span", { class: "mono" }, d.number) : el("span", { class: "muted" }, t("document.number_hidden"))),
    el("td", null, party(d.issuer)),
    el("td", null, first ? atHeight(first.at) : "—"),
    el("td", null, d.versions && d.versions.length > 1 ? [t("document.amended_n", { count: d.versions.length - 1 }), " · ", atHeight(latest.at)] : t("document.original")),
    el("td", null, withdrawn ? [badge("fail", t("document.withdrawn")), el("div", { class: "small" }, d.status.reason)] : badge("ok", t("document.active"))),
  );
}

function documentsTable(docs, caption, test) {
  return table(
    [t("document.kind"), t("document.number"), t("document.anchored_by"), t("document.anchored_at"), t("document.versions"), t("common.status")],
    docs.length ? docs.map(documentRow) : [emptyRow(6, t("consignment.no_documents"))],
    { caption, test },
  );
}

function routeLine(legs) {
  const items = [];
  legs.forEach((leg, i) => {
    if (i === 0 || legs[i - 1].to !== leg.from) {
      items.push(el("li", { class: "stop", test: "route-stop", "data-locode": leg.from }, place(leg.from)));
    }
    items.push(
      el("li", { class: `hop hop-${leg.mode}`, "aria-label": t("consignment.hop", { n: i + 1, mode: label("mode", leg.mode) }) },
        el("span", { class: "hop-line", "aria-hidden": "true" }),
        el("span", { class: "hop-mode" }, label("mode", leg.mode))),
    );
    items.push(el("li", { class: "stop", test: "route-stop", "data-locode": leg.to }, place(leg.to)));
  });
  return el("ol", { class: "route-line", test: "route-line", "aria-label": t("consignment.route") }, items);
}

function renderConsignment({ ucr, r, v }) {
  if (!r.ok) {
    const body = r.status === 403
      ? protectedNotice("consignment", r)
      : r.status === 404
        ? notice("info", { test: "not-found" }, t("consignment.not_found", { ucr }))
        : errorBox(t("consignment.error"), describe(r));
    return pageShell(t("consignment.title", { ucr }), null, el("p", { class: "mono", test: "consignment-ucr" }, ucr), body);
  }
  const view = r.data;
  const k = view.consignment;
  const documents = view.documents || [];
  const legs = k.legs || [];
  const events = [...(k.events || [])].sort((a, b) => a.at_ms - b.at_ms);
  const legSections = legs.map((leg, i) => {
    const legDocs = documents.filter((d) => d.leg === i);
    const legEvents = events.filter((e) => e.leg === i);
    return el(
      "article",
      { class: "leg", test: "consignment-leg", "data-leg": i + 1, "data-mode": leg.mode },
      el(
        "h3",
        null,
        t("consignment.leg_n", { n: i + 1 }),
        " · ",
        label("mode", leg.mode),
        " · ",
        place(leg.from),
        el("span", { "aria-hidden": "true" }, " → "),
        el("span", { class: "visually-hidden" }, ` ${t("consignment.to")} `),
        place(leg.to),
      ),
      dl([[t("consignment.carrier"), party(leg.carrier)]], { class: "facts inline" }),
      documentsTable(legDocs, t("consignment.leg_documents", { n: i + 1 }), "leg-documents"),
      legEvents.length ? eventsTable(legEvents, t("consignment.leg_events", { n: i + 1 })) : el("p", { class: "muted small" }, t("consignment.no_events_leg")),
    );
  });
  const general = documents.filter((d) => d.leg === null || d.leg === undefined || d.leg >= legs.length);
  const validation = view.redacted
    ? null
    : validationSection(
      ucr,
      documents,
      v && v.ok ? v.data.report : k.report,
      v && v.ok ? v.data.report_hash : null,
      v && v.ok ? v.data.attestations : k.attestations,
    );
  return pageShell(
    t("consignment.title", { ucr: k.ucr }),
    null,
    el(
      "div",
      { class: "summary-line" },
      el("code", { test: "consignment-ucr", class: "mono" }, k.ucr),
      " ",
      k.status === "closed" ? badge("none", t("consignment_status.closed"), { test: "consignment-status", "data-status": "closed" }) : badge("ok", t("consignment_status.open"), { test: "consignment-status", "data-status": "open" }),
    ),
    view.redacted ? protectedNoticeRedacted() : null,
    section(
      t("consignment.route"),
      { id: "route", test: "route" },
      routeLine(legs),
      dl([
        [t("consignment.opened_by"), party(k.opened_by)],
        [t("consignment.parties"), el("ul", { class: "plain inline-list", test: "consignment-parties" }, (k.parties || []).map((p) => el("li", null, party(p))))],
      ]),
    ),
    section(t("consignment.legs"), { id: "legs", test: "legs" }, legSections.length ? legSections : el("p", null, t("consignment.no_legs"))),
    section(t("consignment.documents"), { id: "consignment-documents", test: "consignment-documents" }, documentsTable(general, t("consignment.documents"), "general-documents")),
    section(
      t("consignment.events"),
      { id: "transport-events", test: "transport-events" },
      events.length ? eventsTable(events, t("consignment.events"), true) : el("p", { class: "muted" }, t("consignment.no_events")),
    ),
    validation,
  );
}

function protectedNoticeRedacted() {
  return notice(
    "protected",
    { test: "redacted-notice" },
    el("p", { class: "protected-what" }, t("protected.consignment_redacted")),
    el("p", { class: "protected-why" }, t("protected.why_signed", { id: state.session ? state.session.id : "" })),
  );
}

function eventsTable(events, caption, withLeg = false) {
  const rows = events.map((e) =>
    el(
      "tr",
      { test: "transport-event", "data-event": e.kind && e.kind.event, "data-leg": e.leg + 1 },
      el("th", { scope: "row" }, el("time", { datetime: new Date(Number(e.at_ms)).toISOString() }, fmtTime(e.at_ms))),
      withLeg ? el("td", null, t("consignment.leg_n", { n: e.leg + 1 })) : null,
      el("td", null, label("event", e.kind && e.kind.event)),
      el("td", null, place(e.place)),
      el("td", null, party(e.recorded_by)),
      el("td", null, link(ROUTE.tx(e.tx), null, hexId(e.tx))),
    ),
  );
  const headers = [t("common.time"), withLeg ? t("consignment.leg") : null, t("event.title"), t("event.place"), t("event.recorded_by"), t("common.transaction")].filter(Boolean);
  return table(headers, rows, { caption, class: "events" });
}

// ---- document --------------------------------------------------------------------------------

async function loadDocument({ id }) {
  const [r, liens] = await Promise.all([
    getJson(`/v1/documents/${enc(id)}`, { signed: true }),
    state.session ? getJson(`/v1/liens?document=${enc(id)}`, { signed: true }) : Promise.resolve(null),
  ]);
  if (r.ok && r.data.consignment) state.docConsignment.set(id, r.data.consignment);
  return { id, r, liens };
}

function renderDocument({ id, r, liens }) {
  if (!r.ok) {
    const body = r.status === 403
      ? protectedNotice("document", r)
      : r.status === 404
        ? notice("info", { test: "not-found" }, t("document.not_found"))
        : errorBox(t("document.error"), describe(r));
    return pageShell(t("document.title"), null, el("p", null, hexId(id, { test: "document-id" })), body);
  }
  const d = r.data;
  const ucr = d.consignment || state.docConsignment.get(d.id);
  const withdrawn = d.status && d.status.status === "withdrawn";
  const kindText = d.kind === "transport" && d.fields && d.fields.kind ? label("transport_kind", d.fields.kind) : label("doc_kind", d.kind);
  const versions = (d.versions || []).map((v, i) =>
    el(
      "tr",
      { test: "document-version", "data-version": i + 1 },
      el("th", { scope: "row" }, String(i + 1)),
      el("td", null, link(ROUTE.tx(v.tx), null, hexId(v.tx))),
      el("td", null, el("code", { class: "hex wrap" }, v.content_hash)),
      el("td", null, el("code", { class: "hex wrap" }, v.fields_root)),
      el("td", null, atHeight(v.at)),
    ),
  );
  let lienPart;
  if (!liens) lienPart = protectedNotice("liens", null);
  else if (liens.ok) lienPart = lienTable(liens.data, ledgerToday());
  else if (liens.status === 403) lienPart = protectedNotice("liens", liens);
  else lienPart = errorBox(t("lien.error"), describe(liens));
  return pageShell(
    d.number ? `${kindText} ${d.number}` : kindText,
    null,
    section(
      t("document.record"),
      { id: "document-record", test: "document-record" },
      dl([
        [t("document.id"), el("code", { class: "hex wrap", test: "document-id" }, d.id)],
        [t("document.kind"), kindText, "document-kind"],
        [t("document.number"), d.number ? el("span", { class: "mono" }, d.number) : el("span", { class: "muted" }, t("document.number_hidden")), "document-number"],
        [t("document.issuer"), party(d.issuer)],
        [t("document.consignment"), ucr ? link(ROUTE.consignment(ucr), { test: "document-consignment" }, ucr) : "—"],
        [t("consignment.leg"), d.leg === null || d.leg === undefined ? "—" : t("consignment.leg_n", { n: d.leg + 1 })],
        [t("common.status"), withdrawn ? [badge("fail", t("document.withdrawn"), { test: "document-status", "data-status": "withdrawn" }), " ", d.status.reason] : badge("ok", t("document.active"), { test: "document-status", "data-status": "active" })],
      ]),
      el(
        "div",
        { class: "actions" },
        downloadButton({
          path: `/v1/proof/tx/${enc(d.id)}`,
          filename: `document-${d.id.slice(0, 12)}.bundle.json`,
          test: "download-document-proof",
          verifyTest: "verify-document-proof",
          text: t("document.download_proof"),
        }),
      ),
    ),
    section(
      t("document.versions"),
      { id: "document-versions", test: "document-versions" },
      table([t("document.version"), t("common.transaction"), t("document.content_hash"), t("document.fields_root"), t("common.height")], versions, { caption: t("document.versions") }),
    ),
    section(
      t("document.fields"),
      { id: "document-fields", test: "document-fields" },
      d.fields ? fieldsView(d.fields) : protectedNotice("document_fields", null),
    ),
    section(t("document.liens"), { id: "document-liens", test: "document-liens" }, lienPart),
  );
}

function fieldLabel(key) {
  return has(`field.${key}`) ? t(`field.${key}`) : String(key).replace(/_/g, " ");
}

const ENUM_FIELDS = { kind: "enum_kind", transport_mode: "transport_mode", incoterm: null };

function isAmount(v) {
  return v && typeof v === "object" && !Array.isArray(v) && "minor" in v && "currency" in v && Object.keys(v).length === 2;
}

function isQuantity(v) {
  return v && typeof v === "object" && !Array.isArray(v) && "value" in v && "unit" in v && Object.keys(v).length === 2;
}

function isParty(v) {
  return v && typeof v === "object" && !Array.isArray(v) && "name" in v && ("uscc" in v || "sco_code" in v || "lei" in v);
}

/** A JSON value in readable form: amounts, quantities, parties, lists and nested records. */
function valueView(key, value, depth = 0) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  if (typeof value === "number") return String(value);
  if (typeof value === "string") {
    if (key in ENUM_FIELDS && ENUM_FIELDS[key]) return label(ENUM_FIELDS[key], value);
    if (key === "sco_code") return link(ROUTE.sco(value), null, value);
    if (/^[0-9a-f]{64}$/.test(value)) return el("code", { class: "hex wrap" }, value);
    return el("span", { class: "value" }, value);
  }
  if (isAmount(value)) return el("span", { class: "num" }, fmtAmount(value));
  if (isQuantity(value)) return el("span", { class: "num" }, `${value.value} ${value.unit}`);
  if (isParty(value)) {
    const ids = [];
    if (value.sco_code) ids.push([t("field.sco_code"), " ", link(ROUTE.sco(value.sco_code), null, value.sco_code)]);
    if (value.uscc) ids.push(["USCC ", el("code", null, value.uscc)]);
    if (value.lei) ids.push(["LEI ", el("code", null, value.lei)]);
    if (value.country) ids.push([value.country]);
    return el("span", { class: "party-value" }, el("strong", null, value.name), ids.length ? el("span", { class: "small muted" }, " · ", ids.map((x, i) => [i ? " · " : "", x])) : null);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return el("span", { class: "muted" }, "—");
    if (value.every((v) => v === null || typeof v !== "object")) return value.map(String).join(", ");
    if (value.every((v) => v && typeof v === "object" && !Array.isArray(v) && !isAmount(v) && !isQuantity(v) && !isParty(v))) {
      const columns = [...new Set(value.flatMap((v) => Object.keys(v)))];
      return table(
        columns.map(fieldLabel),
        value.map((row) => el("tr", null, columns.map((c) => el("td", null, valueView(c, row[c], depth + 1))))),
        { class: "nested" },
      );
    }
    return el("ul", { class: "plain" }, value.map((v) => el("li", null, valueView(key, v, depth + 1))));
  }
  if (typeof value === "object") {
    return dl(Object.entries(value).map(([k, v]) => [fieldLabel(k), valueView(k, v, depth + 1)]), { class: depth ? "facts nested" : "facts" });
  }
  return String(value);
}

function fieldsView(fields) {
  const entries = Object.entries(fields).filter(([k]) => k !== "type");
  return dl(entries.map(([k, v]) => [fieldLabel(k), valueView(k, v), `field-${k}`]), { test: "fields" });
}

// ---- transaction and block -------------------------------------------------------------------

async function loadTx({ id }) {
  const r = await getJson(`/v1/tx/${enc(id)}`);
  let block = null;
  if (r.ok && r.data.receipt && state.session) {
    block = await getJson(`/v1/blocks/${r.data.receipt.height}`, { signed: true });
  }
  return { id, r, block };
}

/** The transactions of a certified block by position, with withheld ones as null. */
function blockTransactions(certified) {
  const withheld = new Set(certified.withheld || []);
  const kept = (certified.block && certified.block.transactions) || [];
  const ids = certified.transaction_ids || [];
  let next = 0;
  return ids.map((id, i) => ({ id, index: i, tx: withheld.has(i) ? null : kept[next++] || null, withheld: withheld.has(i) }));
}

function relatedLinks(tx, id) {
  if (!tx || !tx.tx || !tx.tx.body) return null;
  const body = tx.tx.body;
  const links = [];
  if (body.type === "anchor_document") links.push(link(ROUTE.document(id), null, t("tx.open_document")));
  if (body.document && body.type !== "anchor_document") links.push(link(ROUTE.document(body.document), null, t("tx.open_document")));
  if (body.consignment) links.push(link(ROUTE.consignment(body.consignment), null, body.consignment));
  if (body.ucr) links.push(link(ROUTE.consignment(body.ucr), null, body.ucr));
  if (body.sco_code) links.push(link(ROUTE.sco(body.sco_code), null, body.sco_code));
  return links.length ? el("span", { class: "related" }, links.map((l, i) => [i ? " · " : "", l])) : null;
}

function renderTx({ id, r, block }) {
  if (!r.ok) {
    const body = r.status === 404
      ? notice("info", { test: "not-found" }, t("tx.not_found"))
      : r.status === 400
        ? errorBox(t("tx.bad_id"), r.detail)
        : errorBox(t("tx.error"), describe(r));
    return pageShell(t("tx.title"), null, el("p", null, el("code", { class: "hex wrap", test: "tx-id" }, id)), body);
  }
  const s = r.data;
  const receipt = s.receipt;
  const statusBadge = {
    committed: badge("ok", t("tx.committed")),
    rejected: badge("fail", t("tx.rejected")),
    pending: badge("pending", t("tx.pending")),
  }[s.status] || badge("none", s.status);
  const outcome = receipt && receipt.outcome;
  let body = null;
  if (block && block.ok) {
    const entry = blockTransactions(block.data).find((x) => x.index === receipt.index);
    if (entry && entry.tx) {
      body = section(
        t("tx.body"),
        { id: "tx-body", test: "tx-body" },
        dl([
          [t("tx.type"), el("code", null, entry.tx.tx.body.type), "tx-type"],
          [t("tx.signer"), party(entry.tx.tx.signer)],
          [t("tx.nonce"), String(entry.tx.tx.nonce)],
          [t("tx.related"), relatedLinks(entry.tx, s.tx_id)],
        ]),
        el("details", { "data-key": "tx-json" }, el("summary", null, t("tx.show_json")), el("pre", { class: "json" }, JSON.stringify(entry.tx.tx.body, null, 2))),
      );
    } else if (entry && entry.withheld) {
      body = notice("protected", { test: "tx-withheld" }, t("tx.withheld"));
    }
  } else if (block && block.status === 403) {
    body = protectedNotice("tx_body", block);
  } else if (!state.session && receipt) {
    body = protectedNotice("tx_body", null);
  }
  return pageShell(
    t("tx.title"),
    null,
    section(
      t("tx.status"),
      { id: "tx-status", test: "tx-status", "data-status": s.status },
      dl([
        [t("tx.id"), el("code", { class: "hex wrap", test: "tx-id" }, s.tx_id)],
        [t("common.status"), statusBadge, "tx-state"],
        receipt ? [t("common.height"), atHeight(receipt.height)] : null,
        receipt ? [t("tx.index"), String(receipt.index)] : null,
        receipt ? [t("tx.log_index"), String(receipt.log_index)] : null,
        s.block_id ? [t("tx.block_id"), el("code", { class: "hex wrap" }, s.block_id)] : null,
        outcome && outcome.status === "rejected" ? [t("tx.reason"), [el("code", null, outcome.rejection.reason), " — ", outcome.rejection.detail], "tx-rejection"] : null,
      ]),
      receipt
        ? el(
          "div",
          { class: "actions" },
          downloadButton({
            path: `/v1/proof/tx/${enc(s.tx_id)}`,
            filename: `tx-${s.tx_id.slice(0, 12)}.bundle.json`,
            test: "download-tx-proof",
            verifyTest: "verify-tx-proof",
            text: t("tx.download_proof"),
          }),
        )
        : null,
    ),
    body,
  );
}

async function loadBlock({ height }) {
  if (!/^\d+$/.test(height)) return { height, r: { ok: false, status: 400, error: "bad_height", detail: "" } };
  const r = await getJson(`/v1/blocks/${height}`, { signed: true });
  if (r.ok && r.data.block) state.blockTimes.set(Number(height), r.data.block.header.time_ms);
  return { height, r };
}

function renderBlock({ height, r }) {
  const title = t("block.title", { height });
  if (!r.ok) {
    const known = state.overview && (state.overview.latest_blocks || []).find((b) => String(b.height) === String(height));
    const body = r.status === 403
      ? protectedNotice("block", r)
      : r.status === 404
        ? notice("info", { test: "not-found" }, t("block.not_found"))
        : errorBox(t("block.error"), describe(r));
    return pageShell(
      title,
      null,
      known
        ? section(
          t("block.summary"),
          { id: "block-summary", test: "block-summary" },
          dl([
            [t("block.id"), el("code", { class: "hex wrap" }, known.id)],
            [t("common.time"), fmtTime(known.time_ms)],
            [t("overview.transactions"), String(known.txs)],
          ]),
        )
        : null,
      body,
    );
  }
  const c = r.data;
  const header = c.block.header;
  const entries = blockTransactions(c);
  const rows = entries.map((x) =>
    el(
      "tr",
      { test: "block-tx-row", "data-tx": x.id, "data-withheld": String(x.withheld) },
      el("th", { scope: "row", class: "num" }, String(x.index)),
      el("td", null, link(ROUTE.tx(x.id), null, hexId(x.id))),
      el("td", null, x.tx ? el("code", null, x.tx.tx.body.type) : el("span", { class: "muted" }, t("block.withheld"))),
      el("td", null, x.tx ? party(x.tx.tx.signer) : "—"),
      el("td", null, x.tx ? relatedLinks(x.tx, x.id) : null),
    ),
  );
  return pageShell(
    title,
    null,
    section(
      t("block.header"),
      { id: "block-header", test: "block-header" },
      dl([
        [t("block.id"), el("code", { class: "hex wrap" }, c.block_id)],
        [t("common.time"), fmtTime(header.time_ms)],
        [t("block.parent"), Number(height) > 1 ? link(ROUTE.block(Number(height) - 1), null, hexId(header.parent)) : hexId(header.parent)],
        [t("overview.transactions"), String(header.transaction_count)],
        [t("block.log_size"), String(header.log_size)],
        [t("block.state_root"), el("code", { class: "hex wrap" }, header.state_root)],
        [t("block.log_root"), el("code", { class: "hex wrap" }, header.log_root)],
        [t("block.certificate"), t("block.signatures", { count: (c.certificate.signatures || []).length, round: c.certificate.round })],
      ]),
    ),
    section(
      t("block.transactions"),
      { id: "block-transactions", test: "block-transactions" },
      c.withheld && c.withheld.length ? notice("protected", null, t("block.withheld_note", { count: c.withheld.length })) : null,
      table([t("tx.index"), t("tx.id"), t("tx.type"), t("tx.signer"), t("tx.related")], rows.length ? rows : [emptyRow(5, t("block.empty"))], { caption: t("block.transactions") }),
    ),
  );
}

// ---- verify ----------------------------------------------------------------------------------

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function genesisFingerprint(bytes) {
  try {
    const caravan = await verifier();
    const probe = await caravan.verify(bytes, new Uint8Array(0));
    if (probe && probe.genesis_hash) return { kind: "chain", value: probe.genesis_hash, name: probe.chain_name || null };
  } catch {
    /* fall back below */
  }
  if (window.crypto && window.crypto.subtle) {
    return { kind: "sha256", value: hex(await window.crypto.subtle.digest("SHA-256", bytes)) };
  }
  return null;
}

async function useGenesis(bytes, source, name) {
  verifyState.genesis = { bytes, source, name, fingerprint: null, error: null };
  verifyState.genesis.fingerprint = await genesisFingerprint(bytes);
}

async function loadVerify() {
  const tasks = [];
  if (!state.overview) tasks.push(getJson("/v1/overview").then((r) => r.ok && rememberOverview(r.data)));
  if (!verifyState.genesis || (verifyState.genesis.source === "node" && verifyState.genesis.error)) {
    tasks.push(
      getBytes("/v1/genesis").then(async (r) => {
        if (r.ok) await useGenesis(r.bytes, "node", "genesis.json");
        else verifyState.genesis = { bytes: null, source: "node", name: null, fingerprint: null, error: describe(r) };
      }),
    );
  }
  tasks.push(verifier().then(() => (verifyState.verifierError = null), (e) => (verifyState.verifierError = String(e && e.message ? e.message : e))));
  await Promise.all(tasks);
  if (verifyState.file && !verifyState.result) await runVerification();
  return {};
}

async function runVerification() {
  const g = verifyState.genesis;
  if (!verifyState.file || !g || !g.bytes) return;
  verifyState.busy = true;
  try {
    const caravan = await verifier();
    // Verification runs here, in the browser: nothing is sent to the node.
    verifyState.result = await caravan.verify(g.bytes, verifyState.file.bytes);
    verifyState.verifierError = null;
  } catch (error) {
    verifyState.result = { ok: false, kind: null, links: [], error: String(error && error.message ? error.message : error) };
  } finally {
    verifyState.busy = false;
  }
}

async function readFile(file, limit) {
  if (file.size > limit) throw new Error(t("verify.too_large", { size: file.size, limit }));
  return new Uint8Array(await file.arrayBuffer());
}

async function chooseVerifyFile(file) {
  if (!file) return;
  try {
    verifyState.file = { name: file.name, bytes: await readFile(file, MAX_VERIFY_FILE_BYTES) };
  } catch (error) {
    verifyState.file = null;
    verifyState.result = { ok: false, links: [], error: String(error.message || error) };
    paint();
    return;
  }
  verifyState.result = null;
  verifyState.busy = true;
  paint();
  await runVerification();
  if (state.view && state.view.name === "verify") paint();
  document.getElementById("verify-result")?.focus({ preventScroll: false });
}

async function chooseGenesisFile(file) {
  if (!file) return;
  try {
    await useGenesis(await readFile(file, MAX_VERIFY_FILE_BYTES), "file", file.name);
  } catch (error) {
    verifyState.genesis = { bytes: null, source: "file", name: file.name, fingerprint: null, error: String(error.message || error) };
  }
  if (verifyState.file) await runVerification();
  if (state.view && state.view.name === "verify") paint();
}

function dropZone(test, inputId, labelText, help, onFile, accept) {
  const input = el("input", {
    type: "file",
    id: inputId,
    test: `${test}-input`,
    accept,
    class: "file-input",
    onchange: (event) => onFile(event.target.files && event.target.files[0]),
  });
  const zone = el(
    "div",
    { class: "dropzone", test },
    el("label", { for: inputId, class: "dropzone-label" }, el("strong", null, labelText), el("span", { class: "small muted" }, help)),
    input,
  );
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    onFile(event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0]);
  });
  return zone;
}

function linkStatus(status) {
  return { ok: "ok", failed: "fail", not_checked: "none" }[status] || "none";
}

/** The links of a verification, grouped by the part of the file they check, in order. */
function linkChain(links) {
  const groups = [];
  for (const l of links) {
    const part = l.part || "";
    if (!groups.length || groups[groups.length - 1].part !== part) groups.push({ part, links: [] });
    groups[groups.length - 1].links.push(l);
  }
  let n = 0;
  return el(
    "div",
    { class: "chain-groups", test: "verify-links" },
    groups.map((g) => [
      g.part && groups.length > 1 ? el("h3", { class: "chain-part" }, label("part", g.part)) : null,
      el(
        "ol",
        { class: "chain", start: n + 1 },
        g.links.map((l) => {
          n += 1;
          return el(
            "li",
            {
              class: `link link-${linkStatus(l.status)}`,
              test: "verify-link",
              "data-link": l.name,
              "data-part": l.part || null,
              "data-status": l.status,
              "data-n": n,
            },
            badge(linkStatus(l.status), label("verify.status", l.status)),
            " ",
            el("strong", null, label("link", l.name)),
            l.detail ? el("div", { class: "small link-detail" }, l.detail) : null,
          );
        }),
      ),
    ]),
  );
}

/** The facts a transaction's proof establishes. */
function txFacts(tx) {
  if (!tx || typeof tx !== "object") return [];
  const outcome = tx.outcome && tx.outcome.status;
  return [
    tx.tx_id ? [t("tx.id"), link(ROUTE.tx(tx.tx_id), null, el("code", { class: "hex wrap" }, tx.tx_id))] : null,
    tx.body_kind || (tx.body && tx.body.type) ? [t("tx.type"), el("code", null, tx.body_kind || tx.body.type)] : null,
    tx.signer ? [t("tx.signer"), [party(tx.signer), tx.signer_key_source ? el("div", { class: "small muted" }, tx.signer_key_source) : null]] : null,
    outcome ? [t("proven.outcome"), outcome === "accepted" ? badge("ok", t("proven.accepted")) : badge("fail", t("tx.rejected"))] : null,
    tx.height !== undefined ? [t("common.height"), String(tx.height)] : null,
    tx.block_time_ms !== undefined ? [t("proven.block_time"), fmtTime(tx.block_time_ms)] : null,
    tx.certified_by ? [t("proven.certified_by"), tx.certified_by.join(", ")] : null,
  ];
}

/** What a verified file proves, in words, with every fact as JSON below. */
function provenView(res) {
  const p = res.proven;
  let facts = [];
  if (res.kind === "credential") {
    facts = [
      p.credential_id ? [t("proven.credential_id"), el("code", { class: "wrap" }, p.credential_id)] : null,
      p.issuer ? [t("attestation.issuer"), [party(p.issuer), p.issuer_name ? el("span", { class: "muted" }, ` ${p.issuer_name}`) : null]] : null,
      p.sco_code ? [t("sco.code"), link(ROUTE.sco(p.sco_code), null, p.sco_code)] : null,
      p.record ? [t("attestation.record"), [el("strong", null, label("record", p.record.kind)), " ", recordText(p.record)]] : null,
      p.valid_from ? [t("attestation.validity"), `${p.valid_from} – ${p.valid_until || t("attestation.open_ended")}`] : null,
      p.revocation ? [t("proven.revocation"), label("proven.revocation", p.revocation)] : null,
      ...txFacts(p.bundle),
    ];
  } else {
    facts = txFacts(p.transaction);
    const st = p.state;
    if (st && typeof st === "object") {
      facts.push(
        [t("proven.state_key"), el("code", { class: "wrap" }, st.key_text || st.key)],
        [t("proven.state_value"), st.value ? el("code", { class: "hex wrap" }, shortHex(st.value, 32, 8)) : badge("none", t("proven.absent"))],
        st.height !== undefined ? [t("proven.state_height"), String(st.height)] : null,
        st.block_time_ms !== undefined ? [t("proven.block_time"), fmtTime(st.block_time_ms)] : null,
        st.certified_by ? [t("proven.certified_by"), st.certified_by.join(", ")] : null,
      );
    }
  }
  return el(
    "div",
    { test: "verify-proven" },
    el("h3", null, t("verify.proven")),
    dl(facts),
    el("details", { "data-key": "proven-json" }, el("summary", null, t("proven.all")), el("pre", { class: "json" }, JSON.stringify(p, null, 2))),
  );
}

function renderVerify() {
  const g = verifyState.genesis;
  const chain = state.overview && state.overview.chain_id;
  let genesisInfo;
  if (!g) genesisInfo = el("p", { class: "muted" }, t("common.loading"));
  else if (!g.bytes) genesisInfo = errorBox(t("verify.genesis_error"), g.error);
  else {
    const fp = g.fingerprint;
    genesisInfo = el(
      "div",
      null,
      el("p", { test: "genesis-source", "data-source": g.source }, g.source === "node" ? t("verify.genesis_node") : t("verify.genesis_file", { name: g.name })),
      dl([
        [
          fp && fp.kind === "chain" ? t("verify.chain_id") : t("verify.sha256"),
          fp ? el("code", { class: "hex wrap", test: "genesis-fingerprint", "data-kind": fp.kind }, fp.value) : "—",
        ],
        fp && fp.name ? [t("verify.chain_name"), fp.name, "genesis-chain-name"] : null,
        [t("verify.size"), t("verify.bytes", { count: g.bytes.length })],
        fp && fp.kind === "chain" && chain
          ? [t("verify.this_node"), fp.value === chain ? badge("ok", t("verify.same_chain"), { test: "genesis-match", "data-match": "true" }) : badge("warn", t("verify.other_chain"), { test: "genesis-match", "data-match": "false" })]
          : null,
      ]),
    );
  }
  const genesisSection = section(
    t("verify.genesis"),
    { id: "verify-genesis", test: "verify-genesis" },
    el("p", { class: "muted small" }, t("verify.genesis_help")),
    genesisInfo,
    el(
      "div",
      { class: "actions" },
      dropZone("genesis-drop", "genesis-file", t("verify.genesis_choose"), t("verify.genesis_choose_help"), chooseGenesisFile, ".json,application/json"),
      g && g.source === "file"
        ? el("button", {
          type: "button",
          class: "button secondary",
          test: "genesis-reset",
          onclick: async () => {
            verifyState.genesis = null;
            await loadVerify();
            paint();
          },
        }, t("verify.genesis_reset"))
        : null,
    ),
  );
  const fileSection = section(
    t("verify.file"),
    { id: "verify-file-section" },
    el("p", { class: "muted small" }, t("verify.file_help")),
    dropZone("verify-drop", "verify-file", t("verify.choose"), t("verify.choose_help"), chooseVerifyFile, ".json,.cbor,.vc,.jsonld,application/json,application/cbor,application/vc"),
  );
  let resultSection = null;
  if (verifyState.verifierError) {
    resultSection = errorBox(t("verify.no_verifier"), verifyState.verifierError);
  }
  if (verifyState.busy) {
    resultSection = el("p", { class: "loading", test: "verify-busy", role: "status" }, t("verify.busy"));
  } else if (verifyState.result) {
    const res = verifyState.result;
    const links = res.links || [];
    resultSection = section(
      res.ok ? t("verify.ok_title") : t("verify.failed_title"),
      { id: "verify-result", test: "verify-result", "data-ok": String(Boolean(res.ok)), "data-kind": res.kind || "", tabindex: "-1" },
      el(
        "p",
        { class: `verdict ${res.ok ? "verdict-ok" : "verdict-fail"}` },
        res.ok ? badge("ok", t("verify.ok")) : badge("fail", t("verify.failed")),
        " ",
        verifyState.file ? el("span", { class: "mono" }, verifyState.file.name) : null,
        res.kind ? [" · ", label("verify.kind", res.kind)] : null,
      ),
      res.error ? el("p", { class: "verify-error", test: "verify-error" }, res.error) : null,
      links.length ? linkChain(links) : null,
      res.ok && res.proven ? provenView(res) : null,
      res.genesis_hash ? el("p", { class: "small muted" }, t("verify.against"), " ", el("code", { class: "hex wrap" }, res.genesis_hash)) : null,
    );
  }
  return pageShell(
    t("verify.title"),
    t("verify.subtitle"),
    notice("info", { test: "verify-local-note" }, t("verify.local_note")),
    fileSection,
    resultSection,
    genesisSection,
  );
}

// ---- sign in ---------------------------------------------------------------------------------

const PARTICIPANT_ID = /^[A-Z0-9]+(-[A-Z0-9]+)*$/;

function validParticipantId(id) {
  return id.length >= 3 && id.length <= 48 && PARTICIPANT_ID.test(id);
}

async function chooseKeyFile(file) {
  if (!file) return;
  if (file.size > MAX_KEY_FILE_BYTES) {
    signinState.error = t("signin.key_too_large");
    paint();
    return;
  }
  signinState.keyText = await file.text();
  signinState.keyName = file.name;
  signinState.error = null;
  const stem = file.name.replace(/\.(key|json|txt)$/i, "");
  const input = document.getElementById("signin-participant");
  if (validParticipantId(stem) && input && !input.value.trim()) {
    input.value = stem;
    signinState.id = stem;
  }
  const loaded = document.getElementById("signin-key-name");
  if (loaded) loaded.textContent = t("signin.key_loaded", { name: file.name });
}

async function submitSignin(event) {
  event.preventDefault();
  const id = (document.getElementById("signin-participant").value || "").trim();
  signinState.id = id;
  if (!validParticipantId(id)) {
    signinState.error = t("signin.bad_id");
    paint();
    document.getElementById("signin-participant")?.focus();
    return;
  }
  if (!signinState.keyText) {
    signinState.error = t("signin.no_key");
    paint();
    document.getElementById("signin-key")?.focus();
    return;
  }
  signinState.busy = true;
  signinState.error = null;
  paint();
  // The challenge: a read of one's own participant record, signed over its path and the time.
  const r = await getJson(`/v1/participants/${enc(id)}`, { as: { id, key: signinState.keyText } });
  signinState.busy = false;
  if (r.ok) {
    state.session = { id, key: signinState.keyText, name: r.data.name, roles: r.data.roles || [], sco_code: r.data.sco_code };
    state.names.set(id, r.data.name);
    signinState.keyText = null;
    signinState.keyName = "";
    updateSession();
    const back = state.returnTo && !state.returnTo.startsWith("#/signin") ? state.returnTo : ROUTE.home();
    state.returnTo = null;
    announce(t("session.signed_in_as", { id }));
    if (window.location.hash === back) route();
    else window.location.hash = back;
    return;
  }
  if (r.status === 403) signinState.error = t("signin.refused");
  else if (r.error === "signing") signinState.error = t("signin.bad_key", { detail: r.detail });
  else signinState.error = describe(r);
  paint();
  document.getElementById("signin-error")?.focus();
}

function signOut() {
  state.session = null;
  signinState.keyText = null;
  signinState.keyName = "";
  state.docConsignment.clear();
  for (const id of [...state.names.keys()]) if (!state.agencyIds.has(id)) state.names.delete(id);
  nameRequests.clear();
  timeRequests.clear();
  updateSession();
  announce(t("session.signed_out"));
  route();
}

function renderSignin() {
  const s = state.session;
  const current = s
    ? notice(
      "ok",
      { test: "signin-current" },
      el("p", null, t("session.signed_in_as", { id: s.id }), s.name ? ` — ${s.name}` : ""),
      s.roles && s.roles.length ? el("p", { class: "small" }, t("signin.roles"), ": ", s.roles.map((r) => label("role", r)).join(", ")) : null,
      s.sco_code ? el("p", { class: "small" }, t("sco.code"), ": ", link(ROUTE.sco(s.sco_code), null, s.sco_code)) : null,
      el("button", { type: "button", class: "button secondary", test: "signin-signout", onclick: signOut }, t("session.signout")),
    )
    : null;
  const form = el(
    "form",
    { id: "signin-form", test: "signin-form", class: "form", novalidate: true, onsubmit: submitSignin },
    el(
      "div",
      { class: "field" },
      el("label", { for: "signin-participant" }, t("signin.participant")),
      el("input", {
        id: "signin-participant",
        test: "signin-participant",
        name: "participant",
        type: "text",
        autocomplete: "username",
        autocapitalize: "characters",
        spellcheck: "false",
        placeholder: "CN-BANK-QINGDAO",
        value: signinState.id,
        "aria-describedby": "signin-participant-help",
        oninput: (event) => (signinState.id = event.target.value),
      }),
      el("p", { id: "signin-participant-help", class: "small muted" }, t("signin.participant_help")),
    ),
    el(
      "div",
      { class: "field" },
      el("label", { for: "signin-key" }, t("signin.key")),
      el("input", {
        id: "signin-key",
        test: "signin-key",
        name: "key",
        type: "file",
        accept: ".key,.json,application/json,text/plain",
        "aria-describedby": "signin-key-help signin-key-name",
        onchange: (event) => chooseKeyFile(event.target.files && event.target.files[0]),
      }),
      el("p", { id: "signin-key-name", class: "small", test: "signin-key-name" }, signinState.keyName ? t("signin.key_loaded", { name: signinState.keyName }) : ""),
      el("p", { id: "signin-key-help", class: "small muted" }, t("signin.key_help")),
    ),
    signinState.error ? el("p", { id: "signin-error", class: "form-error", role: "alert", tabindex: "-1", test: "signin-error" }, signinState.error) : null,
    el("button", { type: "submit", class: "button", test: "signin-submit", disabled: signinState.busy }, signinState.busy ? t("signin.checking") : t("signin.submit")),
  );
  return pageShell(
    t("signin.title"),
    t("signin.subtitle"),
    current,
    section(s ? t("signin.switch") : t("signin.title"), { id: "signin" }, form),
    notice(
      "info",
      { test: "signin-privacy" },
      el("p", null, t("signin.privacy")),
      el("p", null, t("signin.challenge")),
      el("p", null, t("signin.what_visible")),
    ),
  );
}

// ---- not found -------------------------------------------------------------------------------

function renderNotFound(_, params) {
  return pageShell(t("notfound.title"), null, notice("info", { test: "not-found" }, t("notfound.text", { path: params.path })), el("p", null, link(ROUTE.home(), null, t("nav.overview"))));
}

// ---- pages -----------------------------------------------------------------------------------

const PAGES = {
  overview: { load: loadOverview, render: renderOverview, title: () => t("overview.title"), refreshable: true },
  search: { load: loadSearch, render: renderSearch, title: (p) => (p.q ? t("search.results_for", { query: p.q }) : t("search.title")) },
  sco: { load: loadSco, render: renderSco, title: (p, d) => (d && d.r && d.r.ok ? d.r.data.enterprise.name : p.code), refreshable: true },
  consignment: { load: loadConsignment, render: renderConsignment, title: (p) => t("consignment.title", { ucr: p.ucr }), refreshable: true },
  document: { load: loadDocument, render: renderDocument, title: () => t("document.title"), refreshable: true },
  tx: { load: loadTx, render: renderTx, title: () => t("tx.title"), refreshable: true },
  block: { load: loadBlock, render: renderBlock, title: (p) => t("block.title", { height: p.height }) },
  verify: { load: loadVerify, render: renderVerify, title: () => t("verify.title") },
  signin: { load: async () => ({}), render: renderSignin, title: () => t("signin.title") },
  notfound: { load: async () => ({}), render: renderNotFound, title: () => t("notfound.title") },
};

// ---- live updates ----------------------------------------------------------------------------

let events = null;
let reconnectTimer = null;

function connectEvents() {
  if (!("EventSource" in window)) {
    setLive("unsupported");
    return;
  }
  if (events) events.close();
  setLive("connecting");
  events = new EventSource("/v1/events");
  events.addEventListener("open", () => setLive("live"));
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) {
      setLive("offline");
      clearTimeout(reconnectTimer);
      reconnectTimer = setTimeout(connectEvents, 5000);
    } else setLive("connecting");
  });
  events.addEventListener("block", (event) => onBlock(parseEvent(event)));
  for (const name of ["document", "report"]) events.addEventListener(name, (event) => onRecord(name, parseEvent(event)));
}

function parseEvent(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function onBlock(block) {
  if (!block) return;
  setLive("live");
  const height = Number(block.height);
  if (Number.isFinite(height)) state.blockTimes.set(height, block.time_ms);
  if (state.overview && height > state.overview.height) {
    state.overview.height = height;
    state.overview.latest_blocks = [
      { height, id: block.id, time_ms: block.time_ms, txs: block.txs },
      ...(state.overview.latest_blocks || []).filter((b) => b.height !== height),
    ].slice(0, 20);
  }
  updateFooter();
  const view = state.view;
  if (!view) return;
  const kinds = Object.keys(block.kinds || {});
  if (view.name === "overview") {
    const wait = Math.max(0, state.lastOverviewAt + OVERVIEW_REFRESH_MS - Date.now());
    clearTimeout(onBlock.overviewTimer);
    onBlock.overviewTimer = setTimeout(() => refresh(), wait);
  } else if (view.name === "tx") {
    const d = view.data;
    if (d && d.r && d.r.ok && d.r.data.status === "pending") refresh(t("live.updated", { height }));
  } else if (RELEVANT_KINDS[view.name] && kinds.some((k) => RELEVANT_KINDS[view.name].includes(k))) {
    refresh(t("live.updated", { height }));
  }
}

function onRecord(name, data) {
  const view = state.view;
  if (!view || !["consignment", "sco", "document"].includes(view.name)) return;
  refresh(t(`live.new_${name}`, { height: data && data.height !== undefined ? data.height : "" }));
}

function setLive(live) {
  state.live = live;
  updateFooter();
}

// ---- chrome: header, language, session, footer -----------------------------------------------

function applyStatic() {
  document.documentElement.lang = htmlLang();
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language()));
  }
}

function switchLanguage(code) {
  setLanguage(code);
  try {
    window.localStorage.setItem(LANG_STORAGE_KEY, language());
  } catch {
    /* storage unavailable: the choice lasts for this page */
  }
  applyStatic();
  updateSession();
  updateFooter();
  const region = document.getElementById("notice");
  if (region) {
    region.textContent = "";
    region.hidden = true;
  }
  paint({ preserve: true });
}

function updateSession() {
  const box = document.getElementById("signin-status");
  if (!box) return;
  const s = state.session;
  box.dataset.signedIn = String(Boolean(s));
  if (s) {
    box.replaceChildren(
      el("span", { class: "session-who", test: "signin-who", "data-participant": s.id }, el("span", { class: "muted" }, t("session.signed_in")), " ", el("strong", null, s.id), s.name ? el("span", { class: "session-name", title: s.name }, s.name) : null),
      el("button", { type: "button", class: "button small secondary", test: "signout-button", id: "signout-button", onclick: signOut }, t("session.signout")),
    );
  } else {
    box.replaceChildren(
      el("span", { class: "muted", test: "signin-who" }, t("session.not_signed_in")),
      link(ROUTE.signin(), { class: "button small", test: "signin-link", id: "signin-link" }, t("session.signin")),
    );
  }
}

function updateFooter() {
  const live = document.getElementById("live-status");
  if (live) {
    live.dataset.state = state.live;
    live.textContent = t(`live.${state.live}`);
  }
  const node = document.getElementById("footer-node");
  if (node) {
    const o = state.overview;
    node.textContent = o ? t("footer.node", { agency: o.node ? o.node.agency : "—", height: o.height }) : "";
  }
}

function updateNav() {
  const name = state.view ? state.view.name : "";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function setupChrome() {
  const form = document.getElementById("search-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = document.getElementById("search-input").value.trim();
    if (!q) return;
    const target = ROUTE.search(q);
    if (window.location.hash === target) route();
    else window.location.hash = target;
  });
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.lang));
  }
  const skip = document.getElementById("skip-link");
  if (skip) {
    skip.addEventListener("click", (event) => {
      event.preventDefault();
      document.getElementById("main").focus();
    });
  }
}

function start() {
  let stored = null;
  try {
    stored = window.localStorage.getItem(LANG_STORAGE_KEY);
  } catch {
    stored = null;
  }
  setLanguage(detectLanguage(stored, navigator.languages || [navigator.language]));
  setupChrome();
  applyStatic();
  updateSession();
  updateFooter();
  window.addEventListener("hashchange", () => {
    if (parseRoute(window.location.hash)) route();
  });
  route();
  connectEvents();
}

// The language list is exported by i18n.js; the buttons in index.html carry the same codes.
void LANGUAGES;

start();
