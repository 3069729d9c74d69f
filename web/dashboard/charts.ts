// Time-series charts with uPlot (about 50 KB, canvas, no dependencies): one
// chart per panel, sized to its container and resized with it.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line (or bar series) of a chart. */
export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  /** Values per x; null leaves a gap. */
  readonly values: ReadonlyArray<number | null>;
  /** Draw bars instead of a line. */
  readonly bars?: boolean;
  /** Shown as a percentage (0..1 values). */
  readonly rate?: boolean;
}

const HEIGHT_PX = 220;
const percent = (v: number) => `${Math.round(v * 100)}%`;

/** A chart in `container` that can be given new data. */
export class TimeChart {
  private plot: uPlot | null = null;
  private readonly resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT_PX }));

  constructor(private readonly container: HTMLElement) {
    this.resize.observe(container);
  }

  private width(): number {
    return Math.max(this.container.clientWidth, 200);
  }

  /** Redraws with `xs` (ms since epoch) and the series (rebuilt: the series set may change). */
  show(xs: readonly number[], series: readonly SeriesSpec[]): void {
    this.plot?.destroy();
    const rate = series.some((s) => s.rate === true);
    const bars = uPlot.paths.bars?.({ size: [0.6, 40] });
    const options: uPlot.Options = {
      width: this.width(),
      height: HEIGHT_PX,
      scales: { x: { time: true }, y: rate ? { range: [0, 1] } : { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{}, rate ? { values: (_u, ticks) => ticks.map(percent) } : {}],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.bars === true ? 0 : 2,
          ...(s.bars === true ? { fill: `${s.color}99`, points: { show: false } } : {}),
          ...(s.bars === true && bars !== undefined ? { paths: bars } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? '-' : rate ? percent(v) : String(Math.round(v * 100) / 100)),
        })),
      ],
      legend: { live: true },
    };
    // uPlot takes x in seconds.
    const data = [xs.map((x) => x / 1000), ...series.map((s) => [...s.values])] as uPlot.AlignedData;
    this.plot = new uPlot(options, data, this.container);
  }
}
