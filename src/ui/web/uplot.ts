import type UPlot from 'uplot';

/**
 * uPlot, from its own minified build (vendor/uPlot.iife.min.js, loaded by index.html before the
 * modules), typed by its package's declarations.
 */
export const uPlot = (globalThis as unknown as { uPlot: typeof UPlot }).uPlot;
export type Chart = UPlot;
export type ChartOptions = UPlot.Options;
export type ChartData = UPlot.AlignedData;
