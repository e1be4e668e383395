import type { Decimal } from '../../domain/decimal';
import type { Plan, PlanDraft, UserLimits } from '../../domain/plan';

/** A per-user assignment: the plan, and limits that replace the plan's where given (null = unlimited). */
export interface PlanAssignment {
  planId: string;
  monthlyTokenLimit?: number | null;
  monthlyCostLimit?: Decimal | null;
}

export interface PlanStore {
  /** Makes the workspace known and gives it the starter plans if it has none; cheap when done before. */
  ensureWorkspace(workspaceId: string): Promise<void>;
  timeZone(workspaceId: string): Promise<string>;
  /** Sets the zone whose calendar months are the quota periods, and recounts the current period in it. */
  setTimeZone(workspaceId: string, zone: string, now: Date): Promise<void>;
  list(workspaceId: string): Promise<Plan[]>;
  get(workspaceId: string, planId: string): Promise<Plan | null>;
  /** Creates a plan; a new default replaces the old one. Null when the name is taken. */
  create(workspaceId: string, draft: PlanDraft): Promise<Plan | null>;
  /** Replaces a plan's fields; a new default replaces the old one. Changes to a workspace's plans run one at a time. */
  update(workspaceId: string, plan: Plan): Promise<Plan | 'missing' | 'name-taken'>;
  /** Deletes a plan unless it is (by now) the default; its users fall back to the default. */
  remove(workspaceId: string, planId: string): Promise<'removed' | 'missing' | 'default'>;
  assign(workspaceId: string, userId: string, assignment: PlanAssignment): Promise<void>;
  limitsOf(workspaceId: string, userId: string): Promise<UserLimits>;
}
