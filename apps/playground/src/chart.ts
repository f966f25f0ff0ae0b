/** One line of {@link drawChart}: values in [0, 1] per epoch. */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
  /** A horizontal reference level (the model alone), drawn dashed. */
  readonly reference?: number;
}

/** A small line chart of accuracies (0–100 %) over epochs on a canvas. */
export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[], epochs: number): void {
  const g = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  const pad = { l: 40, r: 10, t: 10, b: 28 };
  const x = (e: number) => pad.l + ((w - pad.l - pad.r) * e) / Math.max(1, epochs - 1);
  const y = (v: number) => h - pad.b - (h - pad.t - pad.b) * v;
  g.clearRect(0, 0, w, h);
  g.font = '11px sans-serif';
  g.strokeStyle = '#ccc';
  g.fillStyle = '#555';
  for (let p = 0; p <= 100; p += 25) {
    g.beginPath();
    g.moveTo(pad.l, y(p / 100));
    g.lineTo(w - pad.r, y(p / 100));
    g.stroke();
    g.fillText(`${p}%`, 4, y(p / 100) + 4);
  }
  for (let e = 0; e < epochs; e++) g.fillText(String(e + 1), x(e) - 3, h - pad.b + 14);
  g.fillText('epoch', w / 2 - 15, h - 3);
  series.forEach((s, k) => {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    if (s.reference !== undefined) {
      g.setLineDash([4, 4]);
      g.beginPath();
      g.moveTo(pad.l, y(s.reference));
      g.lineTo(w - pad.r, y(s.reference));
      g.stroke();
      g.setLineDash([]);
    }
    g.lineWidth = 2;
    g.beginPath();
    s.values.forEach((v, e) => (e === 0 ? g.moveTo(x(e), y(v)) : g.lineTo(x(e), y(v))));
    g.stroke();
    for (const [e, v] of s.values.entries()) g.fillRect(x(e) - 2, y(v) - 2, 4, 4);
    g.lineWidth = 1;
    const last = s.values[s.values.length - 1];
    g.fillText(`${s.label}${last !== undefined ? ` ${(100 * last).toFixed(1)}%` : ''}`, pad.l + 8 + k * 120, pad.t + 12);
  });
}
