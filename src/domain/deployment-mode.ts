/** `self-hosted` operators see cost; `cloud` hides every cost field. */
export type DeploymentMode = 'self-hosted' | 'cloud';

export const DEPLOYMENT_MODES: readonly DeploymentMode[] = ['self-hosted', 'cloud'];

export function showsCost(mode: DeploymentMode): boolean {
  return mode === 'self-hosted';
}
