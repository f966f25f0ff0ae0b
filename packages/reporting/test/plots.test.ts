import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decode } from 'fast-png';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { createRunFolder } from '@promptkd/experiments';
import { encodePng, lineChartSvg, lineChartVegaLite, svgToPng, writeLineChart } from '@promptkd/reporting';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-plot-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const chart = {
  title: 'KiOP-B training',
  xLabel: 'epoch',
  yLabel: 'accuracy (%)',
  series: [
    { name: 'Acc.A', points: [[1, 90], [2, 91], [3, Number.NaN], [4, 93]] as [number, number][] },
    { name: 'Acc.B', points: [{ x: 1, y: 20 }, { x: 2, y: 45 }, { x: 4, y: 60 }] },
  ],
  yDomain: [0, 100] as const,
};

describe('plots', () => {
  it('renders an SVG line chart with title, axis labels and legend', async () => {
    const svg = await lineChartSvg(chart);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['KiOP-B training', 'epoch', 'accuracy (%)', 'Acc.A', 'Acc.B']) expect(svg).toContain(text);
    await expect(lineChartSvg({ ...chart, series: [] })).rejects.toBeInstanceOf(ConfigError);
  });

  it('draws a shaded band per series when given (e.g. mean ± std over seeds)', async () => {
    const banded = {
      ...chart,
      series: [{ name: 'KDP (n=3)', points: [[1, 60], [2, 50]] as [number, number][], band: [[1, 55, 65], [2, 40, 60]] as [number, number, number][] }],
    };
    const spec = lineChartVegaLite(banded) as { layer?: { mark: { type: string }; data: { values: unknown[] } }[] };
    expect(spec.layer?.map((l) => l.mark.type)).toEqual(['area', 'line']);
    expect(spec.layer?.[0]?.data.values).toEqual([
      { x: 1, lo: 55, hi: 65, series: 'KDP (n=3)' },
      { x: 2, lo: 40, hi: 60, series: 'KDP (n=3)' },
    ]);
    const svg = await lineChartSvg(banded);
    expect(svg).toContain('KDP (n=3)');
    expect(svg).toContain('layer_0_marks'); // the band's area mark is drawn, translucent
    expect(svg).toContain('opacity="0.15"');
    expect((lineChartVegaLite(chart) as { layer?: unknown }).layer).toBeUndefined(); // no band: the plain spec
  });

  it('writes SVG and a PNG that decodes to a plausible size with ink on it', async () => {
    const run = createRunFolder(root, { name: 'p', config: {} });
    const out = await writeLineChart(run, 'curves', chart);
    expect(out.svg).toBe(path.join(run.dir, 'figures', 'curves.svg'));
    const png = decode(fs.readFileSync(out.png as string));
    const w = Number(/width="(\d+)"/.exec(fs.readFileSync(out.svg, 'utf8'))?.[1]);
    expect(png.width).toBe(2 * w);
    expect(png.width).toBeGreaterThan(900);
    expect(png.width).toBeLessThan(1600);
    expect(png.height).toBeGreaterThan(500);
    expect(png.height).toBeLessThan(1000);
    // White background with dark text and coloured lines: a fair share of non-white pixels.
    const ch = png.channels;
    let ink = 0;
    for (let i = 0; i < png.width * png.height; i++) if ((png.data[i * ch] as number) < 200) ink++;
    expect(ink / (png.width * png.height)).toBeGreaterThan(0.005);
    const one = decode(await svgToPng(fs.readFileSync(out.svg, 'utf8'), { scale: 1 }));
    expect(one.width).toBe(w);
  });

  it('encodes images (e.g. a prompt) as PNG from floats in [0,1]', async () => {
    const data = new Float32Array(4 * 3 * 3).map((_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? 0.5 : -1));
    const png = decode(await encodePng({ width: 4, height: 3, channels: 3, data }));
    expect([png.width, png.height, png.channels]).toEqual([4, 3, 3]);
    expect(Array.from(png.data.slice(0, 3))).toEqual([255, 128, 0]);
    await expect(encodePng({ width: 2, height: 2, channels: 1, data: [1, 2] })).rejects.toBeInstanceOf(ConfigError);
  });
});
