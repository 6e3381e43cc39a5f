export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
  /** A horizontal line worth drawing, such as a latency limit. */
  limit?: { y: number; label: string };
}

const W = 440;
const H = 300;
const M = { left: 64, right: 16, top: 32, bottom: 44 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Round tick values: 1, 2 or 5 times a power of ten. */
function ticks(max: number, count = 5): number[] {
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const stepSize = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  return Array.from({ length: Math.floor(max / stepSize) + 1 }, (_, i) => i * stepSize);
}

const label = (v: number) => (v >= 1000 ? `${v / 1000}k` : String(v));

function panel(p: Panel, dx: number, xLabel: string): string {
  const all = p.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((pt) => pt.x)) * 1.05;
  const yMax = Math.max(1, p.limit?.y ?? 0, ...all.map((pt) => pt.y)) * 1.1;
  const x = (v: number) => dx + M.left + (v / xMax) * (W - M.left - M.right);
  const y = (v: number) => M.top + (1 - v / yMax) * (H - M.top - M.bottom);
  const out: string[] = [
    `<text x="${dx + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`,
    `<text x="${dx + 14}" y="${H / 2}" transform="rotate(-90 ${dx + 14} ${H / 2})" text-anchor="middle">${esc(p.yLabel)}</text>`,
    `<text x="${dx + M.left + (W - M.left - M.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`,
  ];
  for (const t of ticks(yMax)) {
    out.push(`<line x1="${x(0)}" x2="${x(xMax)}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${x(0) - 6}" y="${y(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of ticks(xMax)) {
    out.push(`<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<line x1="${x(0)}" x2="${x(0)}" y1="${y(0)}" y2="${y(yMax)}" stroke="#333"/>`);
  out.push(`<line x1="${x(0)}" x2="${x(xMax)}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  if (p.limit) {
    out.push(
      `<line x1="${x(0)}" x2="${x(xMax)}" y1="${y(p.limit.y)}" y2="${y(p.limit.y)}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${x(xMax) - 4}" y="${y(p.limit.y) - 4}" text-anchor="end" fill="#c00">${esc(p.limit.label)}</text>`,
    );
  }
  for (const s of p.series) {
    const pts = s.points.map((pt) => `${x(pt.x).toFixed(1)},${y(pt.y).toFixed(1)}`);
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const pt of pts) {
      const [cx, cy] = pt.split(",");
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
  }
  return out.join("\n");
}

/** Two panels side by side over the same x axis, with one legend. */
export function chart(title: string, xLabel: string, left: Panel, right: Panel): string {
  const legend = left.series.map(
    (s, i) =>
      `<rect x="${M.left + i * 140}" y="${H + 8}" width="12" height="12" fill="${s.color}"/><text x="${M.left + i * 140 + 18}" y="${H + 18}">${esc(s.name)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 52}" viewBox="0 0 ${2 * W} ${H + 52}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel(left, 0, xLabel),
    panel(right, W, xLabel),
    ...legend,
    `<text x="${2 * W - 8}" y="${H + 40}" text-anchor="end" fill="#666">${esc(title)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
