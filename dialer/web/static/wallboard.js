// The manager's wallboard (dialer/web/wallboard.py sends the JSON); no build step.
// - One EventSource on /manager/wallboard/events; each `wallboard` event is one campaign's
//   update: the whole board first, then only the rows that changed (null: gone), the
//   sections that changed and the new samples of the time series.
// - Rows are kept by collector id, updated in place: 500 collectors cost a few cells a tick.
// - "For" and "Talk" count on in the page from the board's engine time (`now`, `rate`).
// - Charts are inline SVG drawn here from the samples: the abandon rate over the legal
//   window with the cap, occupancy with the pacer's threshold.
// - Pause / Log out call the JSON API's collector-control endpoints with the CSRF token.
// body[data-wallboard-updates] counts the updates applied (tests wait on it).
(function () {
  var root = document.getElementById("wallboard");
  if (!root) return;
  var csrf = root.dataset.csrf;
  var boards = {};

  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }
  function pct(x, digits) { return x === null || x === undefined ? "–" : (x * 100).toFixed(digits) + "%"; }
  function words(s) { return String(s).replace(/_/g, " "); }
  function cell(tr, i) { return tr.children[i]; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(e, text) { if (e.textContent !== text) e.textContent = text; }
  function status(text) { document.getElementById("wallboard-status").textContent = text; }
  function say(id, text) {
    var e = document.getElementById(id);
    e.textContent = text || "";
    e.hidden = !text;
  }

  function boardOf(name) {
    if (boards[name]) return boards[name];
    var section = root.querySelector('section[data-campaign="' + CSS.escape(name) + '"]');
    if (!section) return null;
    boards[name] = {
      section: section, cols: {}, sampleCols: {}, rows: {}, trs: {}, samples: [],
      now: 0, rate: 1, at: Date.now(),
    };
    return boards[name];
  }

  // ----- the roster ------------------------------------------------------------------------
  var CELLS = ["name", "team", "state", "for", "case", "talk", "console", "actions"];
  function newRow(id) {
    var tr = el("tr");
    tr.dataset.collector = id;
    tr.setAttribute("data-testid", "wb-row-" + id);
    CELLS.forEach(function (name) {
      var td = el("td");
      td.setAttribute("data-testid", "wb-" + name);
      if (name === "actions") td.className = "actions";
      tr.appendChild(td);
    });
    cell(tr, 0).textContent = id;
    return tr;
  }
  function button(label, testid, action, endCall) {
    var b = el("button", "", label);
    b.type = "button";
    b.setAttribute("data-testid", testid);
    b.dataset.action = action;
    if (endCall) b.dataset.endCall = "true";
    return b;
  }
  function fillRow(board, tr, row) {
    var c = board.cols;
    var state = row[c.state], reason = row[c.pause_reason], pending = row[c.after_call];
    var text = words(state) + (reason ? " (" + words(reason) + ")" : "");
    if (pending) text += "; " + pending + " when the call ends";
    setText(cell(tr, 1), row[c.team] || "");
    setText(cell(tr, 2), text);
    var caseId = row[c.case_id];
    var caseCell = cell(tr, 4);
    caseCell.replaceChildren();
    if (caseId !== null) {
      var a = el("a", "", "#" + caseId);
      a.href = "/cases/" + caseId;
      caseCell.appendChild(a);
    }
    var console_ = row[c.console];
    setText(cell(tr, 6), console_ === "connected" ? "connected" : console_ === "gone" ? "gone" : "not on the web");
    var actions = cell(tr, 7);
    actions.replaceChildren();
    var inHand = state === "on_call" || state === "reserved";
    if (row[c.may_pause]) actions.appendChild(button(inHand ? "Pause after the call" : "Pause", "wb-force-pause", "pause"));
    if (row[c.may_log_out]) actions.appendChild(button(inHand ? "Log out after the call" : "Log out", "wb-force-logout", "logout"));
    if (state === "on_call") actions.appendChild(button("End call and log out", "wb-force-logout-end-call", "logout", true));
  }
  function placeRow(tbody, tr, id) {
    var next = null;
    for (var i = 0; i < tbody.children.length; i++) {
      if (tbody.children[i].dataset.collector > id) { next = tbody.children[i]; break; }
    }
    tbody.insertBefore(tr, next);
  }
  function applyRows(board, rows, full) {
    var tbody = board.section.querySelector("tbody[data-rows]");
    if (full) {
      Object.keys(board.trs).forEach(function (id) { if (!(id in rows)) { board.trs[id].remove(); delete board.trs[id]; delete board.rows[id]; } });
    }
    Object.keys(rows).forEach(function (id) {
      var row = rows[id];
      if (row === null) {
        if (board.trs[id]) board.trs[id].remove();
        delete board.trs[id];
        delete board.rows[id];
        return;
      }
      var tr = board.trs[id];
      if (!tr) { tr = board.trs[id] = newRow(id); placeRow(tbody, tr, id); }
      board.rows[id] = row;
      fillRow(board, tr, row);
    });
    board.section.querySelector("[data-empty-roster]").hidden = Object.keys(board.trs).length > 0;
  }
  function tickRows(board) {
    var c = board.cols;
    var engineNow = board.now + (Date.now() - board.at) / 1000 / board.rate;
    Object.keys(board.rows).forEach(function (id) {
      var row = board.rows[id], tr = board.trs[id];
      setText(cell(tr, 3), clock((engineNow - row[c.since]) * board.rate));
      var talk = row[c.talk_since];
      setText(cell(tr, 5), talk === null ? "" : clock((engineNow - talk) * board.rate));
    });
  }

  // ----- the summary, decisions and figures -----------------------------------------------
  function field(board, name) { return board.section.querySelector('[data-field="' + name + '"]'); }
  function applySummary(board, s) {
    setText(field(board, "running"), s.running ? "running" : "paused");
    if (s.window) setText(field(board, "window"), s.window);
    setText(field(board, "abandon"), pct(s.abandon_rate, 2) + (s.cap !== null ? " (cap " + pct(s.cap, 2) + ")" : ""));
    setText(field(board, "budget"), s.abandons_left === null ? "no cap" : s.abandons_left + (s.abandons_left === 1 ? " abandon" : " abandons"));
    setText(field(board, "occupancy"), pct(s.occupancy, 1));
    setText(field(board, "pacer"), s.pacer + (s.threshold !== null ? " · threshold " + pct(s.threshold, 2) : "") + " · hopper " + s.hopper);
    var parts = [];
    Object.keys(s.collectors).forEach(function (k) { parts.push(words(k) + " " + s.collectors[k]); });
    setText(field(board, "collectors"), parts.join(" · "));
  }
  function applyDecisions(board, list) {
    var ol = board.section.querySelector("[data-decisions]");
    var opened = {};  // a technical record the manager opened stays open as the list moves
    ol.querySelectorAll("details[open]").forEach(function (d) { opened[d.dataset.key] = true; });
    ol.replaceChildren();
    if (!list.length) { ol.appendChild(el("li", "muted", "No decisions yet.")); return; }
    list.forEach(function (d) {
      var li = el("li");
      li.appendChild(el("span", "muted", d.at.slice(11, 19) + " "));
      var plain = el("span", "", d.plain);
      plain.setAttribute("data-testid", "wb-decision-reason");
      li.appendChild(plain);
      var details = el("details", "technical");
      details.dataset.key = d.at + " " + d.launch + " " + d.reason;
      if (opened[details.dataset.key]) details.open = true;
      details.appendChild(el("summary", "", "Technical record"));
      var code = el("code", "", d.reason);
      code.setAttribute("data-testid", "wb-decision-technical");
      details.appendChild(code);
      if (d.detail) details.appendChild(el("pre", "", JSON.stringify(d.detail, null, 1)));
      li.appendChild(details);
      ol.appendChild(li);
    });
  }
  function figureRow(line, testid) {
    var tr = el("tr");
    tr.setAttribute("data-testid", testid);
    [
      ["name", line.name], ["team", line.team || ""], ["contacts", String(line.contacts)],
      ["right-party", String(line.right_party)], ["promises", String(line.promises)],
      ["promised", line.promised_amount],
      ["aht", line.handle_seconds === null ? "–" : clock(line.handle_seconds)],
      ["occupancy", pct(line.occupancy, 1)],
    ].forEach(function (pair) {
      var td = el("td", "", pair[1]);
      td.setAttribute("data-testid", "wb-" + pair[0]);
      tr.appendChild(td);
    });
    return tr;
  }
  function applyFigures(board, f) {
    if (!f) return;
    setText(field(board, "day"), f.day + " (" + f.zone + ")");
    var rows = board.section.querySelector("tbody[data-figures]");
    rows.replaceChildren.apply(rows, f.collectors.map(function (l) { return figureRow(l, "wb-fig-" + l.name); }));
    var teams = board.section.querySelector("tbody[data-teams]");
    teams.replaceChildren.apply(teams, f.teams.map(function (l) { return figureRow(l, "wb-team-" + l.name); }));
  }

  // ----- charts -----------------------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var W = 600, H = 160, L = 44, R = 44, T = 8, B = 18;
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function path(points, x, y) {
    var d = "", pen = false;
    points.forEach(function (p) {
      if (p[1] === null || p[1] === undefined) { pen = false; return; }
      d += (pen ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
      pen = true;
    });
    return d;
  }
  function drawChart(svg, series, lines, axisLeft, axisRight) {
    svg.replaceChildren();
    svg.setAttribute("data-samples", String(series.length));
    if (!series.length) { svg.appendChild(svgEl("text", { x: L, y: H / 2, "class": "axis" }, "Waiting for the first samples…")); return; }
    var t0 = series[0][0], t1 = series[series.length - 1][0];
    var span = Math.max(t1 - t0, 1);
    var x = function (t) { return L + (t - t0) / span * (W - L - R); };
    [0, 0.5, 1].forEach(function (f) {
      var yy = T + (1 - f) * (H - T - B);
      svg.appendChild(svgEl("line", { x1: L, x2: W - R, y1: yy, y2: yy, "class": "grid" }));
      svg.appendChild(svgEl("text", { x: 2, y: yy + 4, "class": "axis" }, axisLeft(f)));
      if (axisRight) svg.appendChild(svgEl("text", { x: W - R + 4, y: yy + 4, "class": "axis" }, axisRight(f)));
    });
    var stamp = function (t) { return new Date(t * 1000).toISOString().slice(11, 16); };
    svg.appendChild(svgEl("text", { x: L, y: H - 4, "class": "axis" }, stamp(t0) + " UTC"));
    svg.appendChild(svgEl("text", { x: W - R - 60, y: H - 4, "class": "axis" }, stamp(t1) + " UTC"));
    lines.forEach(function (line) {
      var y = function (v) { return T + (1 - v / line.max) * (H - T - B); };
      var pts = series.map(function (p) { return [p[0], p[1 + line.index]]; });
      var d = path(pts, x, y);
      if (d) svg.appendChild(svgEl("path", { d: d, "class": line.cls, "data-line": line.name }));
    });
  }
  function drawCharts(board) {
    var c = board.sampleCols, s = board.samples;
    var rows = s.map(function (p) { return [p[c.at], p[c.abandon_rate], p[c.cap], p[c.occupancy], p[c.threshold]]; });
    var top = 0.001, thr = 0;
    rows.forEach(function (r) {
      top = Math.max(top, r[1] || 0, (r[2] || 0) * 1.25);
      thr = Math.max(thr, r[4] || 0);
    });
    var abandon = board.section.querySelector('[data-chart="abandon"]');
    drawChart(abandon, rows, [
      { name: "abandon_rate", index: 0, max: top, cls: "line" },
      { name: "cap", index: 1, max: top, cls: "cap" },
    ], function (f) { return pct(top * f, 1); });
    var occupancy = board.section.querySelector('[data-chart="occupancy"]');
    var occLines = [{ name: "occupancy", index: 2, max: 1, cls: "line" }];
    if (thr > 0) occLines.push({ name: "threshold", index: 3, max: thr * 1.1, cls: "threshold" });
    drawChart(occupancy, rows, occLines, function (f) { return pct(f, 0); },
      thr > 0 ? function (f) { return pct(thr * 1.1 * f, 2); } : null);
  }
  function applySeries(board, samples, full) {
    if (full) board.samples = [];
    var last = board.samples.length ? board.samples[board.samples.length - 1][board.sampleCols.seq] : 0;
    samples.forEach(function (p) { if (p[board.sampleCols.seq] > last) board.samples.push(p); });
    if (board.samples.length > board.max) board.samples.splice(0, board.samples.length - board.max);
    drawCharts(board);
  }

  // ----- the stream -------------------------------------------------------------------------
  function apply(msg) {
    var board = boardOf(msg.campaign);
    if (!board) return;
    if (msg.full) {
      msg.columns.forEach(function (name, i) { board.cols[name] = i; });
      msg.sample_columns.forEach(function (name, i) { board.sampleCols[name] = i; });
      board.max = msg.series_size;
    }
    board.now = msg.now;
    board.rate = msg.rate || 1;
    board.at = Date.now();
    if (msg.rows) applyRows(board, msg.rows, msg.full);
    if (msg.summary) applySummary(board, msg.summary);
    if (msg.decisions) applyDecisions(board, msg.decisions);
    if (msg.figures !== undefined) applyFigures(board, msg.figures);
    if (msg.series) applySeries(board, msg.series, msg.full);
    tickRows(board);
    document.body.dataset.wallboardUpdates = String(Number(document.body.dataset.wallboardUpdates || 0) + 1);
  }

  var source = new EventSource(root.dataset.events);
  source.addEventListener("open", function () { status("Live."); document.body.dataset.live = "yes"; });
  source.addEventListener("error", function () { status("Disconnected: reconnecting…"); document.body.dataset.live = "no"; });
  source.addEventListener("wallboard", function (evt) { apply(JSON.parse(evt.data)); });
  source.addEventListener("ended", function () { source.close(); window.location.reload(); });
  setInterval(function () { Object.keys(boards).forEach(function (k) { tickRows(boards[k]); }); }, 1000);

  root.addEventListener("click", function (evt) {
    var b = evt.target.closest && evt.target.closest("button[data-action]");
    if (!b) return;
    var tr = b.closest("tr"), section = b.closest("section[data-campaign]");
    var id = tr.dataset.collector, campaign = section.dataset.campaign;
    var url = "/api/v1/campaigns/" + encodeURIComponent(campaign) + "/collectors/" + encodeURIComponent(id) + "/" + b.dataset.action;
    var init = { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (b.dataset.endCall) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ end_call: true });
    }
    b.disabled = true;
    fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          say("wallboard-error", "");
          say("wallboard-notice", id + ": " + (body.requested === "paused" ? "pause" : "logout") + (body.when === "after_call" ? " when the call ends" : "") + " (see the audit log).");
        } else {
          var detail = typeof body.detail === "string" ? body.detail : "refused (" + response.status + ")";
          say("wallboard-notice", "");
          say("wallboard-error", id + ": " + detail);
          b.disabled = false;
        }
      });
    }).catch(function () { say("wallboard-error", "the dialer did not answer; try again"); b.disabled = false; });
  });
})();
