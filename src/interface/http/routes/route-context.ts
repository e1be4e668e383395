import type { DependencyContainer } from 'tsyringe';
import type { DeploymentMode } from '../../../domain/deployment-mode';
import { showsCost } from '../../../domain/deployment-mode';
import { ManageApiKeys } from '../../../application/use-cases/manage-api-keys';
import { authorize, type AccessRule } from '../auth';

/** What every route plugin receives: the container to resolve its use case from, and settings. */
export interface RouteContext {
  container: DependencyContainer;
  deploymentMode: DeploymentMode;
  maxBatchRecords: number;
}

export function access(context: RouteContext, rule: AccessRule) {
  return authorize(rule, context.container.resolve(ManageApiKeys));
}

/** Cost fields exist in responses only where the deployment shows cost. */
export function costVisible(context: RouteContext): boolean {
  return showsCost(context.deploymentMode);
}
