// oidc-provider ships no type declarations: the little the tests use.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export type ResourceServerInfo = {
    accessTokenFormat?: "jwt" | "opaque";
    accessTokenTTL?: number;
    audience?: string;
    jwt?: { sign?: { alg?: string } };
    scope: string;
  };

  export type Account = {
    accountId: string;
    claims: () => Promise<Record<string, unknown>>;
  };

  export type Configuration = {
    clientDefaults?: Record<string, unknown>;
    cookies?: { keys?: string[] };
    extraClientMetadata?: {
      properties: string[];
      validator?: (
        context: unknown,
        key: string,
        value: unknown,
        metadata: Record<string, unknown>,
      ) => void;
    };
    features?: {
      devInteractions?: { enabled: boolean };
      registration?: { enabled: boolean };
      resourceIndicators?: {
        defaultResource?: (...args: unknown[]) => string | undefined;
        enabled: boolean;
        getResourceServerInfo?: (
          context: unknown,
          resourceIndicator: string,
          client: unknown,
        ) => Promise<ResourceServerInfo> | ResourceServerInfo;
        useGrantedResource?: (...args: unknown[]) => boolean;
      };
    };
    findAccount?: (
      context: unknown,
      accountId: string,
    ) => Promise<Account | undefined>;
    jwks?: { keys: Record<string, unknown>[] };
    pkce?: { required?: (...args: unknown[]) => boolean };
    scopes?: string[];
  };

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
  };
}
