/** Types for png.js (the soak runs as plain ESM; the unit test is TypeScript). */
export type Rgb = readonly [number, number, number] | number[];
export function crc32(bytes: Uint8Array): number;
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer;
export const GLYPH_WIDTH: number;
export const GLYPH_HEIGHT: number;
export class Canvas {
  constructor(width: number, height: number, background?: Rgb);
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
  setPixel(x: number, y: number, c: Rgb): void;
  getPixel(x: number, y: number): number[];
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void;
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick?: number): void;
  text(x: number, y: number, text: string, c: Rgb, scale?: number): number;
  static textWidth(text: string, scale?: number): number;
  toPng(): Buffer;
}
export function niceTicks(min: number, max: number, count?: number): number[];
export interface Series {
  label: string;
  color: Rgb;
  points: [number, number][];
}
export function drawChart(opts: {
  width?: number;
  height?: number;
  xLabel?: string;
  title?: string;
  left: Series;
  right?: Series;
  bands?: [number, number, Rgb?][];
  markers?: [number, Rgb?][];
}): Canvas;
