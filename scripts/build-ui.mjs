// The web dashboard's files beside its compiled modules (dist/src/ui/web/, see src/ui/ui-assets.ts):
// the page, styles and icon from src/ui/web/, and uPlot's own minified build, styles and licence
// from its installed package. Run by `npm run build` after tsc; no network, no bundler.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

const source = 'src/ui/web';
const target = 'dist/src/ui/web';
mkdirSync(join(target, 'vendor'), { recursive: true });
for (const name of readdirSync(source)) {
  if (['.html', '.css', '.svg'].includes(extname(name))) copyFileSync(join(source, name), join(target, name));
}
const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
copyFileSync(join(uplot, 'dist', 'uPlot.iife.min.js'), join(target, 'vendor', 'uPlot.iife.min.js'));
copyFileSync(join(uplot, 'dist', 'uPlot.min.css'), join(target, 'vendor', 'uPlot.min.css'));
copyFileSync(join(uplot, 'LICENSE'), join(target, 'vendor', 'uPlot.LICENSE.txt'));
