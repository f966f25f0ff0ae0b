import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@promptkd/core';
import { toStorageError, writeFileAtomic } from '@promptkd/experiments';

/** One line of a chart: `points` as `[x, y]` pairs or `{x, y}` objects. Non-finite y values are dropped. */
export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number] | { readonly x: number; readonly y: number }>;
  /** A shaded band around the line, `[x, lo, hi]` per point (e.g. mean ± std over seeds). */
  readonly band?: ReadonlyArray<readonly [number, number, number]>;
}

/** A line chart (training curves, accuracy per task). */
export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Plot area size in CSS pixels (default 480 × 300). */
  readonly width?: number;
  readonly height?: number;
  /** Fixed y range, e.g. `[0, 100]` for accuracies. Default: fitted to the data. */
  readonly yDomain?: readonly [number, number];
  /** Draw a dot at every point (default true). */
  readonly points?: boolean;
}

/** Renders any Vega-Lite 6 spec to an SVG string (headless: vega-lite → vega → `view.toSVG()`). */
export async function vegaLiteToSvg(spec: Record<string, unknown>): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  let compiled: unknown;
  try {
    compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  } catch (err) {
    throw new ConfigError(`Invalid Vega-Lite spec: ${(err as Error).message}`, { field: 'spec' }, { cause: err });
  }
  const view = new vega.View(vega.parse(compiled as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The Vega-Lite spec of a {@link LineChartSpec} (exposed so apps can tweak it before {@link vegaLiteToSvg}). */
export function lineChartVegaLite(chart: LineChartSpec): Record<string, unknown> {
  if (chart.series.length === 0) throw new ConfigError(`Chart '${chart.title}' has no series.`, { field: 'series' });
  const values = chart.series.flatMap((s) =>
    s.points
      .map((p) => (Array.isArray(p) ? { x: p[0] as number, y: p[1] as number } : (p as { x: number; y: number })))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => ({ x: p.x, y: p.y, series: s.name })),
  );
  const bands = chart.series.flatMap((s) =>
    (s.band ?? []).filter(([x, lo, hi]) => [x, lo, hi].every(Number.isFinite)).map(([x, lo, hi]) => ({ x, lo, hi, series: s.name })),
  );
  const x = {
    field: 'x',
    type: 'quantitative',
    title: chart.xLabel,
    ...(values.every((v) => Number.isInteger(v.x)) ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
  };
  const y = {
    field: 'y',
    type: 'quantitative',
    title: chart.yLabel,
    ...(chart.yDomain ? { scale: { domain: [...chart.yDomain] } } : { scale: { zero: false } }),
  };
  const color = { field: 'series', type: 'nominal', title: null, sort: chart.series.map((s) => s.name) };
  const frame = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: chart.width ?? 480,
    height: chart.height ?? 300,
    background: 'white',
    config: { font: 'DejaVu Sans', legend: { labelLimit: 0 } }, // labelLimit 0: never cut a series name
  };
  const line = { mark: { type: 'line', point: chart.points ?? true }, encoding: { x, y, color } };
  if (bands.length === 0) return { ...frame, data: { values }, ...line };
  return {
    ...frame,
    config: { ...frame.config, legend: { ...frame.config.legend, symbolOpacity: 1 } }, // legend swatches as strong as the lines, not the bands
    layer: [
      {
        data: { values: bands },
        mark: { type: 'area', opacity: 0.15 },
        encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color },
      },
      { data: { values }, ...line },
    ],
  };
}

/** Renders a line chart (one line per series, legend, axis titles) to SVG. */
export async function lineChartSvg(chart: LineChartSpec): Promise<string> {
  return vegaLiteToSvg(lineChartVegaLite(chart));
}

/**
 * Rasterises an SVG to PNG with resvg, using the system fonts (DejaVu Sans by default). `scale` multiplies
 * the SVG's size (default 2, for crisp figures).
 */
export async function svgToPng(svg: string, options: { scale?: number; background?: string } = {}): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const scale = options.scale ?? 2;
  const width = /<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1];
  const r = new Resvg(svg, {
    background: options.background ?? 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    ...(width ? { fitTo: { mode: 'width' as const, value: Math.round(Number(width) * scale) } } : {}),
  });
  return new Uint8Array(r.render().asPng());
}

/**
 * Encodes an image as PNG: `data` is HWC, uint8 in [0,255] or float in [0,1] (clamped), 1 (grey), 3 (RGB)
 * or 4 (RGBA) channels — e.g. a visual prompt read with `await prompt.data()`.
 */
export async function encodePng(image: {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly data: Uint8Array | Float32Array | readonly number[];
}): Promise<Uint8Array> {
  const { width, height, channels } = image;
  const n = width * height * channels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || image.data.length !== n) {
    throw new ConfigError(`encodePng: expected ${width}×${height}×${channels} = ${n} values, got ${image.data.length}.`, { field: 'data' });
  }
  let bytes: Uint8Array;
  if (image.data instanceof Uint8Array) bytes = image.data;
  else {
    bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, (image.data[i] as number) || 0)) * 255);
  }
  const { encode } = await import('fast-png');
  return encode({ width, height, channels, depth: 8, data: bytes });
}

/**
 * Writes `<name>.svg` and (by default) `<name>.png` into a run folder's `figures/` (object or directory with
 * `config.json`), another existing directory, or at a path stem. Returns the paths.
 */
export async function writeFigure(
  target: string | { readonly paths: { readonly figures: string } },
  name: string,
  svg: string,
  options: { png?: boolean; scale?: number } = {},
): Promise<{ svg: string; png?: string }> {
  let stem: string;
  if (typeof target !== 'string') stem = path.join(target.paths.figures, name);
  else if (fs.existsSync(path.join(target, 'config.json'))) stem = path.join(target, 'figures', name);
  else if (fs.existsSync(target) && fs.statSync(target).isDirectory()) stem = path.join(target, name);
  else stem = target.replace(/\.(svg|png)$/i, '');
  const dir = path.dirname(stem);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw toStorageError(err, dir, 'figure directory');
  }
  await writeFileAtomic(`${stem}.svg`, svg);
  if (options.png === false) return { svg: `${stem}.svg` };
  await writeFileAtomic(`${stem}.png`, await svgToPng(svg, options.scale !== undefined ? { scale: options.scale } : {}));
  return { svg: `${stem}.svg`, png: `${stem}.png` };
}

/** {@link lineChartSvg} + {@link writeFigure}: writes `<name>.svg` and `<name>.png`. */
export async function writeLineChart(
  target: string | { readonly paths: { readonly figures: string } },
  name: string,
  chart: LineChartSpec,
  options: { png?: boolean; scale?: number } = {},
): Promise<{ svg: string; png?: string }> {
  return writeFigure(target, name, await lineChartSvg(chart), options);
}
