import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";

import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  ReadResourceRequestSchema,
  ResourceUpdatedNotificationSchema,
  type ServerCapabilities,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

/**
 * Makes `server` answer with what `client` gets from the server behind it,
 * for every capability in `serverCapabilities`.
 */
export const proxyServer = async ({
  client,
  requestTimeout,
  server,
  serverCapabilities,
}: {
  client: Client;
  requestTimeout?: number;
  server: Server;
  serverCapabilities: ServerCapabilities;
}): Promise<void> => {
  const options = requestTimeout ? { timeout: requestTimeout } : undefined;

  if (serverCapabilities?.logging) {
    server.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
      client.notification(n),
    );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
      server.notification(n),
    );
  }

  if (serverCapabilities?.prompts) {
    server.setRequestHandler(GetPromptRequestSchema, (request) =>
      client.getPrompt(request.params, options),
    );
    server.setRequestHandler(ListPromptsRequestSchema, (request) =>
      client.listPrompts(request.params, options),
    );
  }

  if (serverCapabilities?.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (request) =>
      client.listResources(request.params, options),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (request) =>
      client.listResourceTemplates(request.params, options),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (request) =>
      client.readResource(request.params, options),
    );

    if (serverCapabilities.resources.subscribe) {
      server.setRequestHandler(SubscribeRequestSchema, (request) =>
        client.subscribeResource(request.params, options),
      );
      server.setRequestHandler(UnsubscribeRequestSchema, (request) =>
        client.unsubscribeResource(request.params, options),
      );
      // Updates come from the server behind the client. 5.10.0 listened for
      // them on `server`, where they never arrive, so none got through.
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) =>
        server.notification(n),
      );
    }
  }

  if (serverCapabilities?.tools) {
    server.setRequestHandler(CallToolRequestSchema, (request) =>
      client.callTool(request.params, undefined, options),
    );
    server.setRequestHandler(ListToolsRequestSchema, (request) =>
      client.listTools(request.params, options),
    );
  }

  // 5.10.0 forwards completion/complete whether or not `completions` is
  // declared: under protocol 2024-11-05 completion needed no capability, so
  // older servers answer it without declaring one. SDK 1.21 accepts such a
  // handler; SDK 1.22 and later refuse a handler for a capability `server`
  // does not declare ("Server does not support completions"), and letting
  // that throw would break the proxy of every server without completions.
  // So register whenever the installed SDK accepts it, and otherwise leave
  // the method unhandled ("Method not found"), as that SDK requires.
  try {
    server.setRequestHandler(CompleteRequestSchema, (request) =>
      client.complete(request.params, options),
    );
  } catch {
    // The SDK refused: `server` does not declare completions.
  }
};
