import { type Config, loadConfig } from './config.js';
import { exitOnConfigError, serve } from './server.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  exitOnConfigError(err);
}
serve(config).catch((err: unknown) => {
  process.stderr.write(`NexusCore failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
