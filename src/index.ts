export type { AuthConfig, AuthResult } from "./authentication.js";
export { AuthenticationMiddleware } from "./authentication.js";
export type { AllowedHosts, AllowedOrigins } from "./callerGuards.js";
export { InMemoryEventStore } from "./InMemoryEventStore.js";
export { proxyServer } from "./proxyServer.js";
export type { GetSessionOwner } from "./sessionOwners.js";
export type { CorsOptions } from "./startHTTPServer.js";
export {
  getWWWAuthenticateHeader,
  startHTTPServer,
} from "./startHTTPServer.js";
export { ServerType, startStdioServer } from "./startStdioServer.js";
export { tapTransport } from "./tapTransport.js";
