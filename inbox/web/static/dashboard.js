// Dashboards: one ECharts chart per table; the numbers are the table's rows, unchanged.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dash-data").textContent);
  var titles = JSON.parse(document.getElementById("dash-titles").textContent);
  var itemLabel = { rotate: 40, formatter: function (id) { return titles[id] || id; } };
  if (typeof echarts === "undefined") {
    document.querySelectorAll(".chart").forEach(function (el) {
      el.textContent = "ECharts is not installed (script/bootstrap installs it); the tables below hold the numbers.";
      el.style.height = "auto";
    });
    return;
  }
  function uniq(a) { return a.filter(function (v, i) { return a.indexOf(v) === i; }); }
  function pivot(rows, x, s, v) {  // series per s over categories x
    var xs = uniq(rows.map(function (r) { return r[x]; })), ss = uniq(rows.map(function (r) { return r[s]; }));
    return { xs: xs, series: ss.map(function (name) {
      return { name: name, type: "bar", data: xs.map(function (c) {
        var r = rows.find(function (r) { return r[x] === c && r[s] === name; }); return r ? r[v] : null; }) };
    }) };
  }
  function chart(name, option) {
    var el = document.getElementById("chart-" + name);
    if (!el) return;
    var c = echarts.init(el);
    c.setOption(Object.assign({ animation: false, tooltip: { trigger: "axis" },
      grid: { left: 50, right: 20, top: 30, bottom: 70 } }, option));
  }
  var pct = { type: "value", max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } };
  var r = data.rates.rows;
  chart("rates", { xAxis: { type: "category", data: r.map(function (x) { return x.item_id; }), axisLabel: itemLabel },
    yAxis: pct, series: [{ name: "rate", type: "bar", data: r.map(function (x) { return x.rate; }) }] });
  [["rates_branch", "branch"], ["rates_agent", "agent"], ["rates_week", "week"]].forEach(function (p) {
    if (!data[p[0]]) return;
    var pv = pivot(data[p[0]].rows, "item_id", p[1], "rate");
    chart(p[0], { legend: { type: "scroll", top: 0 }, xAxis: { type: "category", data: pv.xs, axisLabel: itemLabel },
      yAxis: pct, series: pv.series });
  });
  [["branch_days", "branch"], ["agent_days", "agent"]].forEach(function (p) {
    if (!data[p[0]]) return;
    var d = pivot(data[p[0]].rows, "day", p[1], "meetings");
    d.series.forEach(function (s) { s.stack = "m"; });
    chart(p[0], { legend: { type: "scroll", top: 0 }, xAxis: { type: "category", data: d.xs }, yAxis: { type: "value" }, series: d.series });
  });
  [["sync_delay", "branch"], ["sync_delay_agent", "agent"]].forEach(function (p) {
    if (!data[p[0]]) return;
    var d = data[p[0]].rows;
    chart(p[0], { xAxis: { type: "category", data: d.map(function (x) { return x[p[1]]; }), axisLabel: { rotate: 40 } },
      yAxis: { type: "value", name: "h" }, series: [{ name: "mean_delay_h", type: "bar", data: d.map(function (x) { return x.mean_delay_h; }) }] });
  });
  var f = data.findings_week.rows;
  chart("findings_week", { legend: { top: 0 }, xAxis: { type: "category", data: f.map(function (x) { return x.week; }) }, yAxis: { type: "value" },
    series: ["missing", "violated", "events"].map(function (k) { return { name: k, type: "bar", stack: "f", data: f.map(function (x) { return x[k]; }) }; }) });
  var q = data.first_pass.rows;
  chart("first_pass", { xAxis: { type: "category", data: q.map(function (x) { return x.week; }) }, yAxis: pct,
    series: [{ name: "rate", type: "line", data: q.map(function (x) { return x.rate; }) }] });
})();
