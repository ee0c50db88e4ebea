// SPDX-License-Identifier: MIT
// c2wall dashboard: reads the HTTP API with the tab's bearer token and draws with Chart.js
// (Debian's libjs-chart.js, served by c2wall from /usr/share/javascript). No other origin.
"use strict";

const REFRESH_MS = 30000;
const charts = {};

function token() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("c2wall-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("c2wall-token");
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
  if (r.status === 401) {
    sessionStorage.removeItem("c2wall-token");
    throw new Error("the token was refused");
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// Without an incident store (store.sqlite: none) the daemon has no incidents endpoint.
function incidents(path) {
  return api(path).catch((e) => (/HTTP 501$/.test(e.message) ? { incidents: [] } : Promise.reject(e)));
}

function text(id, v) {
  document.getElementById(id).textContent = v;
}

function fmt(n) {
  return Number(n).toLocaleString("en-US");
}

function row(tbody, cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c.v !== undefined ? c.v : c;
    if (c.n) td.className = "n";
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function clear(id) {
  const tb = document.querySelector("#" + id + " tbody");
  tb.textContent = "";
  return tb;
}

const COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];

function draw(id, type, labels, datasets, stacked) {
  const canvas = document.getElementById(id);
  const sums = datasets.map((d) => d.data.reduce((a, b) => a + b, 0));
  canvas.dataset.sums = sums.join(",");
  canvas.dataset.points = String(labels.length);
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(canvas, {
    type: type,
    data: { labels: labels, datasets: datasets.map((d, i) => Object.assign({
      borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length],
      pointRadius: labels.length < 3 ? 3 : 0, borderWidth: 1.5 }, d)) },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { labels: { boxWidth: 10 } } },
      scales: type === "bar" && !stacked ? {} : {
        x: { stacked: !!stacked, ticks: { maxTicksLimit: 8 } },
        y: { stacked: !!stacked, beginAtZero: true } },
    },
  });
}

function hhmm(t) {
  const d = new Date(t * 1000);
  return d.toISOString().substring(11, 16);
}

function render(stats, hist, feeds, optouts, waiting, all) {
  text("t-queries", fmt(stats.queries));
  const hits = all.incidents.reduce((a, i) => a + i.count, 0);
  text("t-hits", fmt(hist.minutes.reduce((a, m) => a + m.hits, 0)));
  text("t-rules", fmt(stats.policy_rules));
  text("t-waiting", fmt(waiting.incidents.length));
  text("t-optouts", fmt(optouts.length));
  text("t-workers", fmt(stats.workers));
  document.getElementById("t-hits").title = fmt(hits) + " hits in the incident store";

  const labels = hist.minutes.map((m) => hhmm(m.t));
  draw("c-traffic", "line", labels, [
    { label: "queries", data: hist.minutes.map((m) => m.queries) },
    { label: "policy hits", data: hist.minutes.map((m) => m.hits) }]);
  draw("c-zones", "bar", labels, hist.zones.map((z, i) => (
    { label: z, data: hist.minutes.map((m) => m.zone_hits[i]) })), true);
  draw("c-famtime", "bar", labels, hist.families.map((f, i) => (
    { label: f, data: hist.minutes.map((m) => m.family_hits[i] || 0) })), true);
  const lat = (k) => hist.minutes.map((m) => (m.latency_ms ? m.latency_ms[k] : null));
  draw("c-latency", "line", labels, [
    { label: "p50 ms", data: lat("p50") },
    { label: "p99 ms", data: lat("p99") },
    { label: "mean ms", data: lat("mean") }]);
  draw("c-rcodes", "line", labels, [
    { label: "NOERROR", data: hist.minutes.map((m) => m.noerror) },
    { label: "NXDOMAIN", data: hist.minutes.map((m) => m.nxdomain) },
    { label: "SERVFAIL", data: hist.minutes.map((m) => m.servfail) }]);

  const fam = {}, names = {};
  for (const i of all.incidents) {
    const f = i.family || i.label || "(unknown)";
    fam[f] = (fam[f] || 0) + i.count;
    for (const n of i.names || []) names[n.qname] = (names[n.qname] || 0) + n.count;
  }
  const topFam = Object.entries(fam).sort((a, b) => b[1] - a[1]).slice(0, 10);
  draw("c-families", "bar", topFam.map((e) => e[0]), [
    { label: "hits", data: topFam.map((e) => e[1]) }]);

  let tb = clear("names");
  for (const [n, c] of Object.entries(names).sort((a, b) => b[1] - a[1]).slice(0, 10))
    row(tb, [n, { v: fmt(c), n: true }]);

  tb = clear("feeds");
  const now = Date.now() / 1000;
  for (const z of feeds.zones) {
    const age = z.last_success ? now - z.last_success : Infinity;
    const stale = !z.enforced || z.expired || z.last_error !== "" || age > 86400;
    const when = z.last_success ? Math.round(age / 60) + " min ago" : "never";
    row(tb, [z.name, { v: z.serial, n: true }, { v: fmt(z.rules), n: true }, when,
      z.expired ? "expired" : z.last_error ? "error: " + z.last_error : stale ? "stale" : "ok"],
      stale ? "stale" : "");
  }
  if (feeds.zones.length === 0) row(tb, ["(no zone followed by transfer)", "", "", "", ""]);

  tb = clear("incidents");
  for (const i of waiting.incidents.slice(0, 50))
    row(tb, [{ v: i.id, n: true }, i.day, i.subscriber_id || "-", i.client,
      i.family || i.rule, i.zone, { v: fmt(i.count), n: true }]);

  text("updated", "updated " + new Date().toISOString().substring(0, 19).replace("T", " ") + " UTC");
  document.body.dataset.ready = "1";
}

async function refresh() {
  try {
    const [stats, hist, feeds, optouts, waiting, all] = await Promise.all([
      api("/api/v1/stats"), api("/api/v1/history"), api("/api/v1/feeds"), api("/api/v1/optout"),
      incidents("/api/v1/incidents?unnotified=1"), incidents("/api/v1/incidents")]);
    document.getElementById("error").hidden = true;
    document.getElementById("main").hidden = false;
    render(stats, hist, feeds, optouts, waiting, all);
  } catch (e) {
    const el = document.getElementById("error");
    el.textContent = "Cannot read the API: " + e.message;
    el.hidden = false;
    document.body.dataset.ready = "error";
    if (!token()) start();
  }
}

function start() {
  if (!token()) {
    const form = document.getElementById("login");
    form.hidden = false;
    form.onsubmit = (ev) => {
      ev.preventDefault();
      sessionStorage.setItem("c2wall-token", document.getElementById("token").value.trim());
      form.hidden = true;
      refresh();
    };
    return;
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
