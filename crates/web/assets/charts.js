// Charts of the staff dashboards and the public statistics page (Apache ECharts, vendored). Each `.chart` carries its data in
// `data-chart-data`; the table beside it says the same, so nothing depends on this. Tooltips
// are drawn on the canvas (richText), since the page forbids inline styles.
(function () {
  "use strict";
  function init() {
    var echarts = window.echarts;
    var boxes = document.querySelectorAll(".chart[data-chart]");
    if (!echarts || !boxes.length) { return; }
    var large = document.documentElement.classList.contains("large");
    var font = large ? 16 : 12;
    var palette = ["#1f3a5f", "#c0392b", "#2e7d5b", "#b7791f", "#6b4c9a", "#2b7a99", "#8a6d3b", "#5f6b7a", "#a33d6b", "#3d6b2f"];
    var charts = [];
    var lang = document.documentElement.lang === "en" ? "EN" : "ZH";
    boxes.forEach(function (box) {
      var data;
      try { data = JSON.parse(box.getAttribute("data-chart-data") || "{}"); } catch (e) { return; }
      var kind = box.getAttribute("data-chart");
      var unit = box.getAttribute("data-unit") || "";
      var items = data.items || [];
      var base = {
        color: palette,
        textStyle: { fontSize: font },
        tooltip: { renderMode: "richText", trigger: kind === "line" ? "axis" : "item" },
        animation: false
      };
      var option;
      if (kind === "line") {
        option = Object.assign(base, {
          legend: { top: 0, textStyle: { fontSize: font } },
          grid: { left: 40, right: 12, top: 36, bottom: 28 },
          xAxis: { type: "category", data: data.labels || [], axisLabel: { fontSize: font } },
          yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: font } },
          series: (data.series || []).map(function (s, i) {
            return { name: s.name, type: "line", data: s.data, showSymbol: false, lineStyle: { width: i === 0 ? 3 : 1.5, type: i === 0 ? "solid" : "dashed" } };
          })
        });
      } else if (kind === "pie") {
        option = Object.assign(base, {
          series: [{ type: "pie", radius: ["35%", "70%"], data: items, label: { fontSize: font, formatter: "{b} {d}%" } }]
        });
      } else if (kind === "bar" || kind === "hbar") {
        var rows = items.slice().reverse();
        option = Object.assign(base, {
          grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
          xAxis: { type: "value", axisLabel: { fontSize: font, formatter: "{value}" + unit }, max: unit === "%" ? 100 : null },
          yAxis: { type: "category", data: rows.map(function (d) { return d.name; }), axisLabel: { fontSize: font, width: 110, overflow: "truncate" } },
          series: [{ type: "bar", data: rows.map(function (d) { return { value: d.value, href: d.href }; }), label: { show: true, position: "right", fontSize: font, formatter: "{c}" + unit } }]
        });
      } else if (kind === "treemap") {
        option = Object.assign(base, {
          series: [{ type: "treemap", data: items, roam: false, nodeClick: false, breadcrumb: { show: false }, label: { fontSize: font, formatter: "{b}\n{c}" } }]
        });
      } else {
        return;
      }
      // The box has its height once it is marked drawn (without JavaScript it takes no room).
      box.classList.add("drawn");
      var chart = echarts.init(box, null, { renderer: "canvas", locale: lang });
      chart.setOption(option);
      chart.on("click", function (p) {
        var href = (p.data && p.data.href) || (items[p.dataIndex] && items[p.dataIndex].href);
        if (href && href.charAt(0) === "/") { window.location.assign(href); }
      });
      charts.push(chart);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
