// Public API of the agent's HTTP wing.
export { HttpServer, MAX_SYMBOL_QUERY_BYTES, type HttpServerOptions } from './server.js';
export { DEFAULT_LIVE_SECONDS, MAX_LIVE_SECONDS, parseProfileQuery, parseTimestamp, QueryError, type ProfileQuery } from './query.js';
export { SymbolTable, parseAddress } from './symbolz.js';
