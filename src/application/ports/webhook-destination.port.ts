/** Where a webhook URL's host points. */
export interface WebhookDestinationGuard {
  /**
   * Null when the host is a public address or a name whose every address is public; otherwise
   * why not (loopback, private, link-local, … or a name that does not resolve).
   */
  publicProblem(url: URL): Promise<string | null>;
}
