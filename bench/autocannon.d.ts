// The part of autocannon 8's programmatic API the benchmark uses (the
// package ships no types).
declare module "autocannon" {
  export interface Options {
    body?: string;
    connections?: number;
    duration?: number;
    headers?: Record<string, string>;
    method?: string;
    pipelining?: number;
    timeout?: number;
    url: string;
  }

  export interface Histogram {
    average: number;
    max: number;
    mean: number;
    min: number;
    p50: number;
    p90: number;
    p99: number;
    stddev: number;
    total: number;
  }

  export interface Result {
    "2xx": number;
    duration: number;
    errors: number;
    latency: Histogram;
    non2xx: number;
    requests: Histogram & { sent: number };
    resets: number;
    statusCodeStats: Record<string, { count: number }>;
    timeouts: number;
  }

  export default function autocannon(options: Options): Promise<Result>;
}
