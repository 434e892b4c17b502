// Public API of the agent's HTTP wing.
export { DEFAULT_REQUEST_LIMITS, exposureProblem, HttpServer, MAX_SYMBOL_QUERY_BYTES, type HttpServerOptions, type RequestLimits } from './server.js';
export { DEFAULT_LIVE_SECONDS, MAX_LIVE_SECONDS, parseProfileQuery, parseTimestamp, QueryError, type ProfileQuery } from './query.js';
export { SymbolTable, parseAddress } from './symbolz.js';
export { authenticates, loadWebConfig, parseWebConfig, type WebConfig, type WebConfigSpec } from './web-config.js';
export { hostHeaderAllowed, isLoopbackAddress, loopbackHostNames } from './host-check.js';
