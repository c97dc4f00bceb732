import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, sendProblem } from '../http/problem.js';

/** Where `npm run build:dashboard` writes the dashboard: `<repo>/dashboard/dist`. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist/', import.meta.url));

export const DASHBOARD_PREFIX = '/dashboard';

/**
 * The dashboard is a client of the public API on the same origin: its own scripts and styles only,
 * nothing inline, no framing, and requests to this origin alone.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface DashboardOptions {
  /** The built dashboard (index.html and assets/); defaults to `dashboard/dist` in the repository. */
  distDir?: string;
}

/**
 * Serves the built dashboard at /dashboard: files from the dist folder with their content types,
 * index.html for any other path under /dashboard (the dashboard routes on the client), and a 503
 * problem that says how to build it when the folder is missing.
 */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions = {}): void {
  const root = path.resolve(options.distDir ?? DEFAULT_DASHBOARD_DIR);

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const indexFile = path.join(root, 'index.html');
    if (!fs.existsSync(indexFile)) {
      return sendProblem(
        request,
        reply,
        new AppError(
          'unavailable',
          'The dashboard has not been built. Run `npm run build:dashboard` (npm ci does it through the prepare script), then reload.',
        ),
      );
    }
    // The router hands over the wildcard already percent-decoded.
    const relative = (request.params as { '*'?: string })['*'] ?? '';
    const file = path.resolve(root, relative);
    // Anything resolving outside the dist folder (../, absolute paths, NUL) is never a file we serve.
    const inside = file.startsWith(root + path.sep) && !relative.includes('\0');
    if (inside && isFile(file)) return sendFile(reply, file, !file.endsWith('index.html'));
    // A missing file with an extension is a broken asset link, not a client route: say so plainly.
    if (path.extname(relative) !== '') {
      return sendProblem(request, reply, new AppError('not_found', `No dashboard file ${relative}`));
    }
    return sendFile(reply, indexFile, false);
  };

  const route = { schema: { hide: true } } as const;
  app.get(DASHBOARD_PREFIX, route, handler);
  app.get(`${DASHBOARD_PREFIX}/*`, route, handler);
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function sendFile(reply: FastifyReply, file: string, immutable: boolean): FastifyReply {
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  // Vite fingerprints everything under assets/, so those may be cached for good; index.html never.
  const hashed = immutable && file.includes(`${path.sep}assets${path.sep}`);
  return reply
    .header('Content-Type', type)
    .header('Content-Length', fs.statSync(file).size)
    .header('Content-Security-Policy', DASHBOARD_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
    .send(fs.createReadStream(file));
}
