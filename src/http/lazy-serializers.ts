import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

/**
 * Fastify compiles every route's response serializers (fast-json-stringify) while the app starts:
 * about 280 ms of this API's start-up, measured with `npm run bench:startup`. This factory
 * compiles each one the first time a response of that route and status is sent instead, so a
 * process is serving sooner and never pays for responses it does not send. Same output, same
 * schemas; a schema error shows on that route's first response, and the API suite sends one of
 * each through the contract checks.
 */
export function lazySerializerFactory(): SerializerFactory {
  const eager = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = eager(externalSchemas, options);
    return (route) => {
      let serialize: ((doc: unknown) => string) | undefined;
      return (doc) => (serialize ??= compile(route))(doc);
    };
  };
}
