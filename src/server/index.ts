/** Public surface of the composition root: what the CLI (and tests) start. Nothing else imports server/. */
export { startServer, defaultServerAddress, coreConfig, type RunningServer, type StartServer } from './server.js';
export { MethodRouter, type MethodHandler, type MethodRouterOptions } from './method-router.js';
