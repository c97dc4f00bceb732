import { buildApp } from '../../src/app.js';
import { type Runtime, openRuntime } from '../../src/bootstrap.js';
import type { Config } from '../../src/config.js';
import { systemClock } from '../../src/shared/clock.js';

/**
 * The app as the server builds it (`openRuntime`, `buildApp`), without a socket: for bench tools
 * that send requests through `app.inject`. `close` closes the app, then the runtime.
 */
export async function openInProcessApp(config: Config): Promise<{ runtime: Runtime; app: Awaited<ReturnType<typeof buildApp>>; close(): Promise<void> }> {
  const runtime = await openRuntime(config);
  try {
    const app = await buildApp({
      db: runtime.db,
      clock: systemClock,
      config,
      services: runtime.services,
      secretBox: runtime.secretBox,
      metrics: runtime.metrics,
    });
    await app.ready();
    return {
      runtime,
      app,
      async close() {
        try {
          await app.close();
        } finally {
          await runtime.close();
        }
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
