import type { RouteOptions } from 'fastify';

type HookName = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler' | 'onSend';

/**
 * Adds a hook to one route, from an `onRoute` listener. A global hook runs on every request of
 * every route, even to return at once; a hook that only some routes need (POST routes, streaming
 * uploads, one brand rule) costs the others nothing when it is attached to those routes alone.
 */
export function addRouteHook(route: RouteOptions, name: HookName, hook: (...args: never[]) => unknown): void {
  const existing = route[name] as unknown;
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  (route as unknown as Record<HookName, unknown>)[name] = [...list, hook];
}
