/** Every DI token of the application, in one place. */
export const TOKENS = {
  UsageRepository: Symbol('UsageRepository'),
  UsageErasure: Symbol('UsageErasure'),
  UsageQueries: Symbol('UsageQueries'),
  LiveUsage: Symbol('LiveUsage'),
  UsageExport: Symbol('UsageExport'),
  PriceCatalog: Symbol('PriceCatalog'),
  ApiKeyStore: Symbol('ApiKeyStore'),
  Clock: Symbol('Clock'),
  PlanStore: Symbol('PlanStore'),
  QuotaStore: Symbol('QuotaStore'),
  Settings: Symbol('Settings'),
  DatabaseHealth: Symbol('DatabaseHealth'),
  WebhookEndpointStore: Symbol('WebhookEndpointStore'),
  WebhookOutbox: Symbol('WebhookOutbox'),
  WebhookDestinationGuard: Symbol('WebhookDestinationGuard'),
  RepricingStore: Symbol('RepricingStore'),
} as const;
