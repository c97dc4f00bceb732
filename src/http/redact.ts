/**
 * What of a request URL may reach the logs: the path, with signed-URL secrets masked, and never
 * the query string (signatures and cursors travel there).
 */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  // Every request's log line passes here: the replace runs only where a signed URL can be.
  return path.includes('loads/') ? path.replace(/\/(uploads|downloads)\/[^/]+/g, '/$1/[redacted]') : path;
}

/** Pino options for the HTTP server: request lines without headers, bodies or query strings. */
export function loggerOptions(level: string) {
  return {
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.secret'], censor: '[redacted]' },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
    },
  };
}
