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

/** Per client: the resources each server proxied through it subscribed to. */
const subscriptionsByClient = new WeakMap<Client, Map<Server, Set<string>>>();

const isSubscribed = (subscriptions: Map<Server, Set<string>>, uri: string) =>
  [...subscriptions.values()].some((uris) => uris.has(uri));

/**
 * The subscriptions of the servers that share `client` (the CLI proxies
 * every session through one client). The client gets one handler for
 * resource updates, which sends each only to the servers that subscribed
 * to that resource: a session never sees another's updates.
 */
const getSubscriptions = (client: Client) => {
  let subscriptions = subscriptionsByClient.get(client);

  if (!subscriptions) {
    const servers = new Map<Server, Set<string>>();

    // Updates come from the server behind the client. 5.10.0 listened for
    // them on `server`, where they never arrive, so none got through.
    client.setNotificationHandler(
      ResourceUpdatedNotificationSchema,
      async (notification) => {
        for (const [server, uris] of servers) {
          if (uris.has(notification.params.uri)) {
            await server.notification(notification).catch(() => {
              // That session has gone; the others still get the update.
            });
          }
        }
      },
    );

    subscriptions = servers;
    subscriptionsByClient.set(client, subscriptions);
  }

  return subscriptions;
};

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
      const subscriptions = getSubscriptions(client);
      const uris = new Set<string>();

      subscriptions.set(server, uris);

      const previousOnClose = server.onclose;
      server.onclose = () => {
        subscriptions.delete(server);
        previousOnClose?.();
      };

      server.setRequestHandler(SubscribeRequestSchema, async (request) => {
        // Recorded first: the update may arrive before the answer does.
        const isNew = !uris.has(request.params.uri);
        uris.add(request.params.uri);

        try {
          return await client.subscribeResource(request.params, options);
        } catch (error) {
          if (isNew) {
            uris.delete(request.params.uri);
          }
          throw error;
        }
      });
      server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
        uris.delete(request.params.uri);

        // Another session sharing this client still wants the updates.
        if (isSubscribed(subscriptions, request.params.uri)) {
          return {};
        }

        return client.unsubscribeResource(request.params, options);
      });
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
