// What the OAuth tests need of a browser and of a wire trace: a user agent
// that follows redirects itself, keeps cookies and fills in HTML forms, and a
// transcript of every request and response either party sends.

export type TranscriptEntry = {
  actor: string;
  method: string;
  request: { body?: string; headers: Record<string, string> };
  response: {
    body?: string;
    headers: Record<string, string>;
    status: number;
  };
  url: string;
};

/** Response headers worth showing in a transcript. */
const shownResponseHeaders = [
  "content-type",
  "location",
  "mcp-session-id",
  "www-authenticate",
];

/** Request headers worth showing in a transcript. */
const shownRequestHeaders = ["authorization", "content-type", "mcp-session-id"];

const abbreviate = (text: string, limit = 160) =>
  text.length > limit ? `${text.slice(0, limit)}…` : text;

/**
 * Shows tokens, codes and PKCE values only by their first characters. A
 * token is a run of at least 24 token characters, so challenge parameters
 * (`Bearer resource_metadata=…`) stay whole.
 */
const redact = (text: string) =>
  text
    .replace(/(Bearer )([\w~+/-]{12})[\w.~+/-]{12,}=*/g, "$1$2…")
    .replace(
      /\b(client_id|code|code_challenge|code_verifier|state)=([\w~.%-]{6})[\w~.%-]+/g,
      "$1=$2…",
    )
    .replace(
      /("(?:access_token|client_id)":")([\w~+/-]{12})[\w.~+/=-]+/g,
      "$1$2…",
    );

export type Form = {
  action: string;
  fields: Record<string, string>;
};

type Cookie = { name: string; path: string; value: string };

export class Transcript {
  readonly entries: TranscriptEntry[] = [];

  /**
   * A fetch that records each exchange under `actor`. Bodies are kept for
   * JSON and form requests and for JSON responses; event streams are not
   * read.
   */
  fetch(actor: string, inner: typeof fetch = fetch): typeof fetch {
    return async (input, init) => {
      const request = new Request(input, init);
      const requestBody =
        typeof init?.body === "string" ? init.body : init?.body?.toString();
      const response = await inner(input, init);
      const contentType = response.headers.get("content-type") ?? "";
      const responseBody = /json|text\/plain/.test(contentType)
        ? await response.clone().text()
        : /html/.test(contentType)
          ? "<html>…</html>"
          : undefined;

      this.entries.push({
        actor,
        method: request.method,
        request: {
          body: requestBody,
          headers: Object.fromEntries(
            [...request.headers].filter(([name]) =>
              shownRequestHeaders.includes(name),
            ),
          ),
        },
        response: {
          body: responseBody,
          headers: Object.fromEntries(
            [...response.headers].filter(([name]) =>
              shownResponseHeaders.includes(name),
            ),
          ),
          status: response.status,
        },
        url: request.url,
      });

      return response;
    };
  }

  /**
   * The exchanges as text, one request line and one response line each,
   * with origins replaced by names (`{MCP}`) so the text is stable.
   */
  format(origins: Record<string, string>): string {
    const named = (text: string) =>
      Object.entries(origins).reduce(
        (result, [name, origin]) =>
          result
            .replaceAll(origin, `{${name}}`)
            .replaceAll(encodeURIComponent(origin), `{${name}}`),
        text,
      );
    const lines: string[] = [];

    const show = (text: string, limit: number) =>
      abbreviate(named(redact(text)), limit);

    for (const entry of this.entries) {
      const request = [
        `${entry.actor} → ${entry.method} ${show(entry.url, 400)}`,
        ...Object.entries(entry.request.headers).map(
          ([name, value]) => `      ${name}: ${show(value, 200)}`,
        ),
        ...(entry.request.body
          ? [`      ${show(entry.request.body, 300)}`]
          : []),
      ];
      const response = [
        `${entry.actor} ← ${entry.response.status}`,
        ...Object.entries(entry.response.headers).map(
          ([name, value]) => `      ${name}: ${show(value, 300)}`,
        ),
        ...(entry.response.body
          ? [`      ${show(entry.response.body, 300)}`]
          : []),
      ];

      lines.push(...request, ...response);
    }

    return lines.join("\n");
  }
}

const unescapeHtml = (text: string) =>
  text
    .replaceAll("&#x2F;", "/")
    .replaceAll("&#x3D;", "=")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

const attribute = (tag: string, name: string) => {
  const match = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag);
  return match ? unescapeHtml(match[1]) : undefined;
};

/** The first `<form method="post">` of an HTML page, with its inputs. */
export const parseForm = (html: string, pageUrl: string): Form => {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);

  if (!form) {
    throw new Error(`no form on ${pageUrl}:\n${html.slice(0, 2000)}`);
  }

  const fields: Record<string, string> = {};

  for (const [input] of form[1].matchAll(/<input\b[^>]*>/gi)) {
    const name = attribute(input, "name");

    if (name) {
      fields[name] = attribute(input, "value") ?? "";
    }
  }

  const action = attribute(
    form[0].slice(0, form[0].indexOf(">") + 1),
    "action",
  );

  return { action: new URL(action ?? pageUrl, pageUrl).href, fields };
};

/**
 * A browser as far as an authorization server can tell: it follows
 * redirects one by one, keeps cookies per path, and submits forms. It stops
 * at a redirect to `stopAt` (the client's redirect URI) and returns it.
 */
export class UserAgent {
  private readonly cookies = new Map<string, Cookie>();

  constructor(private readonly fetchFunction: typeof fetch = fetch) {}

  /** GET `url`, following redirects until a page or `stopAt`. */
  async navigate(url: string, stopAt?: string) {
    return this.follow(url, { method: "GET" }, stopAt);
  }

  /** Submits a form with some fields changed, like pressing its button. */
  async submit(form: Form, values: Record<string, string>, stopAt?: string) {
    return this.follow(
      form.action,
      {
        body: new URLSearchParams({ ...form.fields, ...values }).toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        method: "POST",
      },
      stopAt,
    );
  }

  private cookieHeader(url: URL) {
    return [...this.cookies.values()]
      .filter((cookie) => url.pathname.startsWith(cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join("; ");
  }

  private async follow(
    url: string,
    init: RequestInit,
    stopAt?: string,
  ): Promise<{ html: string; redirectedTo?: string; url: string }> {
    let current = url;
    let requestInit = init;

    for (let hop = 0; hop < 20; hop++) {
      if (stopAt && current.startsWith(stopAt)) {
        return { html: "", redirectedTo: current, url: current };
      }

      const target = new URL(current);
      const headers = new Headers(requestInit.headers);
      const cookie = this.cookieHeader(target);

      if (cookie) {
        headers.set("Cookie", cookie);
      }

      const response = await this.fetchFunction(current, {
        ...requestInit,
        headers,
        redirect: "manual",
      });

      this.store(response);

      const location = response.headers.get("location");

      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        current = new URL(location, current).href;
        // 303 (and 302 after a POST, as browsers do) becomes a GET.
        requestInit = { method: "GET" };
        continue;
      }

      const html = await response.text();

      if (!response.ok) {
        throw new Error(
          `${response.status} from ${current}:\n${html.slice(0, 2000)}`,
        );
      }

      return { html, url: current };
    }

    throw new Error(`too many redirects from ${url}`);
  }

  private store(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((part) => part.trim());
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator);
      const value = pair.slice(separator + 1);
      const path =
        attributes
          .find((part) => /^path=/i.test(part))
          ?.slice("path=".length) ?? "/";
      const expired =
        attributes.some((part) => /^max-age=(0|-)/i.test(part)) ||
        attributes.some(
          (part) =>
            /^expires=/i.test(part) &&
            Date.parse(part.slice("expires=".length)) < Date.now(),
        );
      const key = `${name};${path}`;

      if (expired) {
        this.cookies.delete(key);
      } else {
        this.cookies.set(key, { name, path, value });
      }
    }
  }
}
