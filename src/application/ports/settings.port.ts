import type { DeploymentMode } from '../../domain/deployment-mode';

/** The configuration values use cases act on. */
export interface Settings {
  deploymentMode: DeploymentMode;
  maxBatchRecords: number;
  rawRetentionDays: number;
}
