/**
 * Prometheus metrics of the trust server, in the text exposition format. Labels are route and
 * status only: GUN names may be private, and a label per GUN would grow without bound.
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly uploads = new Map<string, number>();
  private readonly refreshes = new Map<string, number>();

  private static bump(m: Map<string, number>, key: string): void {
    m.set(key, (m.get(key) ?? 0) + 1);
  }

  request(route: string, status: number): void {
    Metrics.bump(this.requests, `route="${route}",status="${status}"`);
  }
  upload(result: 'accepted' | 'refused'): void {
    Metrics.bump(this.uploads, `result="${result}"`);
  }
  refresh(result: 'signed' | 'failed'): void {
    Metrics.bump(this.refreshes, `result="${result}"`);
  }

  render(): string {
    const block = (name: string, help: string, m: Map<string, number>) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} counter`,
      ...[...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([labels, n]) => `${name}{${labels}} ${n}`),
    ];
    return `${[
      ...block('tufa_server_requests_total', 'HTTP requests answered, by route and status.', this.requests),
      ...block('tufa_server_uploads_total', 'Uploads accepted and refused.', this.uploads),
      ...block(
        'tufa_server_timestamp_refreshes_total',
        'Timestamp refreshes signed and failed, by GUN visit.',
        this.refreshes,
      ),
    ].join('\n')}\n`;
  }
}
