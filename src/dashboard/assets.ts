/**
 * The dashboard's static files, read once at start into memory with their gzip form: the page's ES modules and CSS
 * from `public/` (copied next to this module by the build), and uPlot from node_modules, its minified IIFE wrapped as
 * an ES module (22 KB gzipped instead of 42 KB for the unminified ESM build). Only files found at start are served:
 * a request names an asset, never a path, so nothing outside these folders can be reached.
 */
import {createHash} from 'node:crypto';
import {readdirSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {extname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {gzipSync} from 'node:zlib';

/** One file ready to send. */
export interface Asset {
  readonly contentType: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  /** Strong ETag of the body. */
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The folder of the page's files (src/dashboard/public, or dist/dashboard/public once built). */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** Builds an asset from bytes. */
export function assetOf(contentType: string, body: Buffer): Asset {
  return {
    contentType,
    body,
    gzipped: gzipSync(body, {level: 9}),
    etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
  };
}

/** Every asset by the name it is served under (`/assets/NAME`), plus `index.html`. */
export function loadAssets(publicDir: string = PUBLIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(publicDir, {withFileTypes: true})) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    assets.set(entry.name, assetOf(type, readFileSync(join(publicDir, entry.name))));
  }
  const require = createRequire(import.meta.url);
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  // The IIFE declares `var uPlot`; in a module that binding is module-scoped, so exporting it is all it takes.
  assets.set('vendor/uplot.js', assetOf(TYPES['.js']!, Buffer.from(`${uplotJs}\nexport default uPlot;\n`)));
  assets.set('vendor/uplot.css', assetOf(TYPES['.css']!, readFileSync(require.resolve('uplot/dist/uPlot.min.css'))));
  return assets;
}
