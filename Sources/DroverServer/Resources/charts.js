// Drover's charts: small SVG drawings with axes, labels, legends and error bars, each with a
// text alternative and a table of its figures. No library: the dashboard fetches nothing from
// anywhere but Drover.
'use strict';

const DroverCharts = (() => {
  const SVG = 'http://www.w3.org/2000/svg';
  let serial = 0;

  function svgElement(name, attributes = {}, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function htmlElement(name, attributes = {}, text) {
    const element = document.createElement(name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  // Round tick values from 0 to at least `max`: 1, 2 or 5 times a power of ten apart.
  function ticks(max, count = 5) {
    if (max <= 0) return [0, 1];
    const rough = max / count;
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    const values = [];
    for (let value = 0; value < max + step / 2; value += step) values.push(Math.round(value * 1e9) / 1e9);
    if (values[values.length - 1] < max) values.push(values[values.length - 1] + step);
    return values;
  }

  // A <figure>: the drawing (role img, focusable, named by its title and described by `summary`)
  // and a table with the same figures.
  function figure(title, summary, svg, table) {
    const id = `chart-${++serial}`;
    const wrapper = htmlElement('figure', { class: 'chart panel', 'aria-labelledby': `${id}-title` });
    wrapper.style.margin = '0';
    wrapper.append(htmlElement('h2', { id: `${id}-title` }, title));
    svg.setAttribute('role', 'img');
    svg.setAttribute('tabindex', '0');
    svg.setAttribute('aria-labelledby', `${id}-title ${id}-desc`);
    svg.prepend(svgElement('desc', { id: `${id}-desc` }, summary));
    wrapper.append(svg);
    if (table) {
      const details = htmlElement('details', { class: 'table-fallback' });
      details.append(htmlElement('summary', {}, 'Show the figures as a table'), table);
      wrapper.append(details);
    }
    return wrapper;
  }

  function dataTable(headers, rows) {
    const table = htmlElement('table');
    const head = table.createTHead().insertRow();
    headers.forEach((header, index) => head.append(htmlElement('th', index ? { class: 'num', scope: 'col' } : { scope: 'col' }, header)));
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      row.forEach((cell, index) => tr.append(htmlElement(index ? 'td' : 'th', index ? { class: 'num' } : { scope: 'row' }, String(cell))));
    }
    return table;
  }

  function emptyDrawing(width, height, message) {
    const svg = svgElement('svg', { viewBox: `0 0 ${width} ${height}` });
    svg.append(svgElement('rect', { x: 1, y: 1, width: width - 2, height: height - 2, rx: 8, fill: '#fafaf8', stroke: '#dfe3e6', 'stroke-dasharray': '4 4' }));
    svg.append(svgElement('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty-text' }, message));
    return svg;
  }

  function legend(svg, entries, x, y) {
    const group = svgElement('g', { class: 'legend' });
    let offset = 0;
    for (const entry of entries) {
      group.append(svgElement('rect', { x: x + offset, y: y - 10, width: 12, height: 12, rx: 2, fill: entry.color }));
      group.append(svgElement('text', { x: x + offset + 17, y }, entry.name));
      offset += 30 + entry.name.length * 7;
    }
    svg.append(group);
  }

  /**
   * Vertical bars, stacked: one bar per label, one segment per series.
   * options: { title, labels, series: [{ name, color, values }], yLabel, emptyText, formatLabel }
   */
  function stackedBars(options) {
    const width = 640, height = 280, margin = { top: 30, right: 16, bottom: 46, left: 48 };
    const totals = options.labels.map((_, i) => options.series.reduce((sum, s) => sum + s.values[i], 0));
    const grand = totals.reduce((a, b) => a + b, 0);
    const tableRows = options.labels.map((label, i) => [label, ...options.series.map((s) => s.values[i]), totals[i]]);
    const table = dataTable([options.labelHeader || '', ...options.series.map((s) => s.name), 'Total'], tableRows);
    if (grand === 0) {
      return figure(options.title, options.emptyText, emptyDrawing(width, 160, options.emptyText), null);
    }
    const svg = svgElement('svg', { viewBox: `0 0 ${width} ${height}` });
    const plotWidth = width - margin.left - margin.right, plotHeight = height - margin.top - margin.bottom;
    const yTicks = ticks(Math.max(...totals), 4);
    const yMax = yTicks[yTicks.length - 1];
    const y = (value) => margin.top + plotHeight - (value / yMax) * plotHeight;
    const band = plotWidth / options.labels.length;
    const barWidth = Math.max(2, Math.min(36, band * 0.7));

    const axis = svgElement('g', { class: 'axis' });
    for (const tick of yTicks) {
      svg.append(svgElement('line', { class: 'grid-line', x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }));
      axis.append(svgElement('text', { x: margin.left - 8, y: y(tick) + 4, 'text-anchor': 'end' }, String(tick)));
    }
    axis.append(svgElement('line', { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }));
    axis.append(svgElement('line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: y(0) }));
    if (options.yLabel) {
      axis.append(svgElement('text', { x: 14, y: margin.top + plotHeight / 2, transform: `rotate(-90 14 ${margin.top + plotHeight / 2})`, 'text-anchor': 'middle' }, options.yLabel));
    }
    // At most about eight labels along the x axis, the last one always.
    const every = Math.ceil(options.labels.length / 8);
    options.labels.forEach((label, i) => {
      const x = margin.left + band * i + band / 2;
      if ((options.labels.length - 1 - i) % every === 0) {
        axis.append(svgElement('line', { x1: x, x2: x, y1: y(0), y2: y(0) + 4 }));
        axis.append(svgElement('text', { x, y: y(0) + 18, 'text-anchor': 'middle' }, options.formatLabel ? options.formatLabel(label) : label));
      }
      let base = 0;
      for (const series of options.series) {
        const value = series.values[i];
        if (value > 0) {
          const rect = svgElement('rect', { x: x - barWidth / 2, y: y(base + value), width: barWidth, height: y(base) - y(base + value), fill: series.color });
          rect.append(svgElement('title', {}, `${label}: ${value} ${series.name}`));
          svg.append(rect);
        }
        base += value;
      }
    });
    svg.append(axis);
    legend(svg, options.series, margin.left, 16);
    const summary = `${options.summary || ''} ${grand} in all; ${options.series.map((s) => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`).join(', ')}.`;
    return figure(options.title, summary.trim(), svg, table);
  }

  /**
   * A point with its 95 % interval (error bar) per row, on a 0–100 % axis.
   * options: { title, items: [{ label, value, lower, upper, note }], emptyText, summary }
   */
  function intervals(options) {
    const items = options.items.filter((item) => item.value !== null && item.value !== undefined);
    const rowHeight = 40, margin = { top: 34, right: 24, bottom: 46, left: 150 }, width = 640;
    const percent = (value) => `${(value * 100).toFixed(1)} %`;
    if (items.length === 0) {
      return figure(options.title, options.emptyText, emptyDrawing(width, 160, options.emptyText), null);
    }
    const height = margin.top + margin.bottom + rowHeight * items.length;
    const svg = svgElement('svg', { viewBox: `0 0 ${width} ${height}` });
    const plotWidth = width - margin.left - margin.right;
    const x = (value) => margin.left + value * plotWidth;
    const axis = svgElement('g', { class: 'axis' });
    for (let tick = 0; tick <= 1.0001; tick += 0.25) {
      svg.append(svgElement('line', { class: 'grid-line', x1: x(tick), x2: x(tick), y1: margin.top - 6, y2: height - margin.bottom }));
      axis.append(svgElement('text', { x: x(tick), y: height - margin.bottom + 18, 'text-anchor': 'middle' }, `${tick * 100} %`));
    }
    axis.append(svgElement('line', { x1: margin.left, x2: width - margin.right, y1: height - margin.bottom, y2: height - margin.bottom }));
    axis.append(svgElement('text', { x: margin.left + plotWidth / 2, y: height - 6, 'text-anchor': 'middle' }, options.xLabel || 'approval rate'));
    items.forEach((item, i) => {
      const cy = margin.top + rowHeight * i + rowHeight / 2;
      const label = item.label.length > 20 ? `${item.label.slice(0, 19)}…` : item.label;
      axis.append(svgElement('text', { x: margin.left - 10, y: item.note ? cy - 1 : cy + 4, 'text-anchor': 'end', style: 'fill:#1d2327' }, label));
      if (item.note) axis.append(svgElement('text', { x: margin.left - 10, y: cy + 13, 'text-anchor': 'end', style: 'font-size:11px' }, item.note));
      const group = svgElement('g');
      if (item.lower !== null && item.lower !== undefined) {
        group.append(svgElement('line', { x1: x(item.lower), x2: x(item.upper), y1: cy, y2: cy, stroke: item.color || '#1f5f4a', 'stroke-width': 2 }));
        for (const end of [item.lower, item.upper]) {
          group.append(svgElement('line', { x1: x(end), x2: x(end), y1: cy - 7, y2: cy + 7, stroke: item.color || '#1f5f4a', 'stroke-width': 2 }));
        }
      }
      group.append(svgElement('circle', { cx: x(item.value), cy, r: 5.5, fill: item.color || '#1f5f4a' }));
      group.append(svgElement('title', {}, `${item.label}: ${percent(item.value)} (95 % interval ${percent(item.lower)} – ${percent(item.upper)})${item.note ? `, ${item.note}` : ''}`));
      svg.append(group);
    });
    svg.append(axis);
    legend(svg, [{ name: 'approval rate', color: '#1f5f4a' }], margin.left, 16);
    const key = margin.left + 130;
    for (const [x1, y1, x2, y2] of [[key, 11, key + 22, 11], [key, 6, key, 16], [key + 22, 6, key + 22, 16]]) {
      svg.append(svgElement('line', { x1, y1, x2, y2, stroke: '#1f5f4a', 'stroke-width': 2 }));
    }
    svg.append(svgElement('text', { x: key + 30, y: 16, class: 'legend-text' }, '95 % interval'));
    const table = dataTable(
      [options.labelHeader || '', 'Approval', '95 % interval', 'Votes'],
      items.map((item) => [item.label, percent(item.value), `${percent(item.lower)} – ${percent(item.upper)}`, item.votes ?? '']),
    );
    const summary = items.map((item) => `${item.label}: ${percent(item.value)}, 95 % interval ${percent(item.lower)} to ${percent(item.upper)}`).join('; ');
    return figure(options.title, summary, svg, table);
  }

  /** A small horizontal bar for a share (0…1), for table cells. */
  function shareBar(value, color) {
    const svg = svgElement('svg', { viewBox: '0 0 90 10', width: 90, height: 10, 'aria-hidden': 'true' });
    svg.append(svgElement('rect', { x: 0, y: 0, width: 90, height: 10, rx: 3, fill: '#eceff1' }));
    if (value !== null && value !== undefined) svg.append(svgElement('rect', { x: 0, y: 0, width: 90 * value, height: 10, rx: 3, fill: color }));
    return svg;
  }

  return { stackedBars, intervals, shareBar };
})();
